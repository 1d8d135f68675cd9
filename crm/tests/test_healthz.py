"""/healthz: 200 when database, Redis, a Celery worker and beat's heartbeat answer; 503 otherwise.

The worker drill starts its own worker on a Redis database number nobody else uses, so a
developer's running worker cannot answer for it; the outage case points the cache and
broker at a port where nothing listens, so the shared Redis is never stopped.
"""

import os
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import override_settings
from django.utils import timezone

from crm.celery import app as celery_app
from crm.models import Heartbeat
from crm.services import heartbeat_record
from crm.tasks import heartbeat

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
    assert response.json()["beat"] == "error: no heartbeat yet"


def test_it_reports_503_when_redis_is_down(client, db):
    dead = f"redis://127.0.0.1:{_free_port()}/0"
    cache_conf = {"default": {"BACKEND": "crm.cache.RedisCache", "LOCATION": dead}}
    with override_settings(CACHES=cache_conf):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["redis"].startswith("error")
    assert response.json()["celery"] == "unknown: broker down"


def test_it_reports_beat_down_when_the_heartbeat_is_stale(client, db, isolated_broker, settings):
    settings.BEAT_HEARTBEAT_MAX_AGE = 180
    Heartbeat.objects.create(name="beat", at=timezone.now() - timedelta(seconds=400))
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["beat"].startswith("error: last heartbeat 4")


def test_it_reports_beat_ok_when_the_heartbeat_is_recent(client, db, isolated_broker):
    heartbeat_record(name="beat")
    assert client.get("/healthz").json()["beat"] == "ok"


def test_the_heartbeat_task_passes_celerys_own_checks_and_records_the_time(db, settings):
    """Sent as beat sends it: apply_async checks the limits before anything else (the check
    that failed every minute), then the eager run records the heartbeat."""
    celery_app.conf.task_always_eager = True
    try:
        heartbeat.apply_async()
    finally:
        celery_app.conf.task_always_eager = False
    assert (timezone.now() - Heartbeat.objects.get(name="beat").at).total_seconds() < 5


def test_every_task_has_a_soft_limit_within_its_hard_limit():
    celery_app.loader.import_default_modules()
    bad = [
        name
        for name, task in celery_app.tasks.items()
        if task.soft_time_limit and task.time_limit and task.soft_time_limit > task.time_limit
    ]
    assert bad == []


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
    heartbeat_record(name="beat")
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
        assert response.json() == {"status": "ok", "database": "ok", "redis": "ok", "celery": "ok", "beat": "ok"}
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        log.close()
