"""The CRM's Celery app plus one task that only sleeps, for drills that need a worker busy
with a task for a known time (``celery -A crm.tests.drill_app worker``). Never imported by
the product."""

import time
from pathlib import Path

from crm.celery import app

__all__ = ["app", "sleep_then_touch"]


@app.task(name="drill.sleep_then_touch", time_limit=120, soft_time_limit=110)
def sleep_then_touch(seconds: float, path: str) -> None:
    Path(f"{path}.started").touch()
    time.sleep(seconds)
    Path(path).touch()
