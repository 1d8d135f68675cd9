"""Real processes for the reliability drills: a private ``redis-server`` on a free loopback
port and ``celery worker`` subprocesses using the test database. Every wait has a deadline
and everything started is killed by the caller's ``finally``/fixture teardown."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from celery import Celery
from django.conf import settings
from django.db import connection

from crm.tests.processes import RedisServer, free_port, wait_until

__all__ = ["RedisServer", "Worker", "free_port", "mail_count", "send_sweep", "sweep_until", "wait_until"]

BASE_DIR = Path(settings.BASE_DIR)
CELERY = str(Path(sys.executable).with_name("celery"))


def _database_url() -> str:
    db = connection.settings_dict
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


class Worker:
    """``celery -A crm worker`` on the test database and a private broker."""

    def __init__(self, broker_url: str, var_dir: Path, *, lease_seconds: int = 300, name: str = "drill") -> None:
        self.broker_url = broker_url
        self.var_dir = var_dir
        self.lease_seconds = lease_seconds
        self.name = name
        self.process: subprocess.Popen | None = None
        self.log_path = var_dir / f"{name}.log"

    def start(self) -> Worker:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "crm.settings",
            "DATABASE_URL": _database_url(),
            "REDIS_URL": self.broker_url,
            "CACHE_URL": self.broker_url.rsplit("/", 1)[0] + "/1",
            "CRM_VAR_DIR": str(self.var_dir),
            "SECRET_KEY": "drill-secret-key-not-for-production-0123456789",
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "REMINDER_LEASE_SECONDS": str(self.lease_seconds),
        }
        env.pop("DATABASE_REPLICA_URL", None)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                CELERY,
                "-A",
                "crm",
                "worker",
                "--pool=solo",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-n",
                f"{self.name}-{os.getpid()}@%h",
                "--loglevel=INFO",
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        return self

    def sigkill(self) -> None:
        if self.process and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        self.sigkill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def send_sweep(broker_url: str) -> None:
    """What beat does every minute: put one sweep on the queue."""
    app = Celery("drill-client", broker=broker_url)
    app.conf.task_serializer = "json"
    try:
        app.send_task("activities.tasks.reminder_sweep")
    finally:
        app.close()


def mail_count(var_dir: Path) -> int:
    mail_dir = var_dir / "mail"
    if not mail_dir.exists():
        return 0
    return sum(path.read_text(errors="replace").count("\nSubject: ") for path in mail_dir.iterdir())


def sweep_until(
    broker_url: str, condition: Callable[[], bool], *, timeout: float, every: float = 10, sweeps: int = 1
) -> None:
    """Send ``sweeps`` sweeps now and again every ``every`` seconds (as beat does each minute)
    until ``condition`` holds: one sweep stops claiming after its time budget, so a large
    backlog on a loaded machine takes several."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for _sweep in range(sweeps):
            send_sweep(broker_url)
        next_tick = min(time.monotonic() + every, deadline)
        while time.monotonic() < next_tick:
            if condition():
                return
            time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {condition}")
