"""A Celery worker survives a Redis restart while it runs a task (crm/broker.py).

With celery/kombu 5.7.0 and the stock Redis transport the worker logged "Restoring 1
unacknowledged message(s)" and exited with ``AttributeError("'NoneType' object has no
attribute 'hostname'")``. The drill runs a real prefork worker (two processes, so the
consumer is waiting on BRPOP while the task runs, as in production) on a private
``redis-server``, restarts that server mid-task, and checks the worker is still alive and
runs a task sent afterwards.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from celery import Celery

from crm.tests.processes import RedisServer, kill_group, wait_until

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
QUEUE = "broker-drill"


def _send(broker_url: str, *args: object) -> None:
    client = Celery("drill-client", broker=broker_url)
    client.conf.task_serializer = "json"
    try:
        client.send_task("drill.sleep_then_touch", args=list(args), queue=QUEUE)
    finally:
        client.close()


def test_a_worker_survives_a_redis_restart_during_a_task(tmp_path):
    redis = RedisServer().start()
    log_path = tmp_path / "worker.log"
    env = {
        **os.environ,
        "REDIS_URL": redis.url,
        "CACHE_URL": redis.url.rsplit("/", 1)[0] + "/1",
        "CELERY_QUEUE": QUEUE,
        "CRM_VAR_DIR": str(tmp_path),
        "PYTHONUNBUFFERED": "1",
    }
    with log_path.open("wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "crm.tests.drill_app", "worker", "--concurrency=2"]
            + ["--loglevel=INFO", "-n", f"broker-drill-{os.getpid()}@%h"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until(lambda: b"ready." in log_path.read_bytes(), timeout=60, what="the worker to start")
        first = tmp_path / "first"
        _send(redis.url, 6, str(first))
        wait_until(Path(f"{first}.started").exists, timeout=30, what="the first task to start")
        time.sleep(0.5)  # the consumer is back in BRPOP, waiting for the next message

        redis.restart(down_for=2)

        wait_until(first.exists, timeout=30, what="the first task to finish")
        second = tmp_path / "second"
        _send(redis.url, 0, str(second))
        wait_until(second.exists, timeout=60, what="a task sent after the restart")
        assert worker.poll() is None, log_path.read_text(errors="replace")
        assert "Unrecoverable error" not in log_path.read_text(errors="replace")
    finally:
        kill_group(worker)
        worker.wait(timeout=30)
        redis.kill()
