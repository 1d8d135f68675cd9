"""/healthz: 200 when database, Redis and a Celery worker answer; 503 otherwise.

The worker drill starts its own worker on a Redis database number nobody else uses, so a
developer's running worker cannot answer for it; the outage case points the cache and
broker at a port where nothing listens, so the shared Redis is never stopped.
"""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.test import override_settings

from crm.celery import app as celery_app

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def isolated_broker():
    """Point Celery at a private Redis database for the duration of a test."""
    url = "redis://127.0.0.1:6379/13"
    old = celery_app.conf.broker_url
    celery_app.conf.broker_url = url
    yield url
    celery_app.conf.broker_url = old


def test_it_reports_503_when_no_worker_answers(client, db, isolated_broker):
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "ok"
    assert response.json()["redis"] == "ok"
    assert response.json()["celery"] == "error: no worker answered"


def test_it_reports_503_when_redis_is_down(client, db):
    dead = f"redis://127.0.0.1:{_free_port()}/0"
    cache_conf = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": dead}}
    with override_settings(CACHES=cache_conf):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["redis"].startswith("error")
    assert response.json()["celery"] == "unknown: broker down"


@pytest.mark.slow
def test_it_reports_200_with_a_worker_running(client, db, isolated_broker, tmp_path):
    env = {**os.environ, "REDIS_URL": isolated_broker}
    log = open(tmp_path / "worker.log", "w")  # noqa: SIM115 - closed in the finally below
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "crm",
            "worker",
            "--pool=solo",
            "--loglevel=WARNING",
            "--hostname",
            f"healthz-{os.getpid()}@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        status = None
        while time.monotonic() < deadline:
            response = client.get("/healthz")
            status = response.status_code
            if status == 200:
                break
            time.sleep(1)
        assert status == 200, (tmp_path / "worker.log").read_text()
        assert response.json() == {"status": "ok", "database": "ok", "redis": "ok", "celery": "ok"}
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        log.close()
