"""The CRM as a user meets it: its own database, a web server, a Celery worker and beat.

Used by the browser tests (tests/browser) and by ``make screenshots``. Everything runs as
real processes against real PostgreSQL and Redis, in a database of its own (``crm_e2e_*``)
so it never touches the development database or pytest-django's test databases.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg2
from psycopg2 import sql

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DEMO_PASSWORD = "demo-pass-2026"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Stack:
    base_url: str
    env: dict[str, str]
    log_dir: Path

    def manage(self, *args: str, timeout: int = 900) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout


def _recreate_database(name: str) -> None:
    _drop_database(name)
    conn = psycopg2.connect(dbname="postgres", host="127.0.0.1", port=5432, user="postgres")
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    conn.close()


def _drop_database(name: str) -> None:
    conn = psycopg2.connect(dbname="postgres", host="127.0.0.1", port=5432, user="postgres")
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [name],
        )
        cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
    conn.close()


def _wait_http(url: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2):
            return
        time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer")


BEAT_SWEEP_SECONDS = 15


@contextlib.contextmanager
def running_stack(*, name: str, redis_db: int, log_dir: Path) -> Iterator[Stack]:
    """Create the database, migrate, seed demo data and run web + worker + beat."""
    log_dir.mkdir(parents=True, exist_ok=True)
    # The pid keeps two runs on one machine (two checkouts, a developer and CI) apart.
    db_name = f"crm_e2e_{name}_{os.getpid()}"
    _recreate_database(db_name)
    port = free_port()
    env = {
        **os.environ,
        "DEBUG": "1",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{db_name}",
        "REDIS_URL": f"redis://127.0.0.1:6379/{redis_db}",
        "CACHE_URL": f"redis://127.0.0.1:6379/{redis_db}",
        "CACHE_KEY_PREFIX": f"e2e-{name}",
        # Each test process runs its own stack on the same Redis database: without a queue of
        # its own, one stack's worker would take the other's tasks (ids of the wrong database).
        "CELERY_QUEUE": f"e2e-{name}",
        "CRM_VAR_DIR": str(log_dir / "var"),
        "DEMO_PASSWORD": DEMO_PASSWORD,
        # runserver starts a thread per request; kept-open connections would pile up.
        "DATABASE_CONN_MAX_AGE": "0",
        "PYTHONUNBUFFERED": "1",
        # Beat's sweeps (reminders, SLAs, imports) every 15 s, not every minute: a journey that
        # waits for one (a case breaching its one-minute SLA) then waits ~15 s, not ~60 s, past
        # its due time, which keeps a slow or busy host within the tests' deadlines.
        "BEAT_SWEEP_SECONDS": str(BEAT_SWEEP_SECONDS),
    }
    stack = Stack(base_url=f"http://127.0.0.1:{port}", env=env, log_dir=log_dir)
    stack.manage("migrate", "--no-input", "-v", "0")
    stack.manage("seed_demo")
    # Drop whatever an earlier run left in this stack's queue (not the other stacks' queues).
    queues = [f"e2e-{name}", *(f"e2e-{name}.{kind}" for kind in ("imports", "rollups", "integrations"))]
    subprocess.run(["redis-cli", "-n", str(redis_db), "DEL", *queues], capture_output=True, check=False)
    commands = {
        "web": [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        "worker": [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "crm",
            "worker",
            "--pool=solo",
            "--loglevel=INFO",
            "--hostname",
            f"e2e-{name}@%h",
        ],
        "beat": [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "crm",
            "beat",
            "--loglevel=INFO",
            "--schedule",
            str(log_dir / "celerybeat-schedule"),
        ],
    }
    processes: list[tuple[subprocess.Popen, object]] = []
    try:
        for proc_name, command in commands.items():
            log = open(log_dir / f"{proc_name}.log", "w")  # noqa: SIM115 - closed below
            processes.append((subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT), log))
        _wait_http(f"{stack.base_url}/accounts/login/", time.monotonic() + 60)
        yield stack
    finally:
        for process, _log in processes:
            process.terminate()
        for process, log in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
            log.close()
        _drop_database(db_name)
