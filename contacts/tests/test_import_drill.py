"""A worker SIGKILLed in the middle of a 30,000-row import: the job is not stuck.

Real processes: a private ``redis-server`` and ``celery worker`` subprocesses on the test
database. The first worker is killed (with everything it started) while it imports; its
transaction rolls back, its lease runs out, the sweep (sent as beat sends it) gives the job
to the second worker, which imports every row exactly once.
"""

from __future__ import annotations

import os
import time
from datetime import timedelta

import pytest
from celery import Celery
from django.utils import timezone

from contacts import import_services
from contacts.models import Contact, ImportJob, ImportState
from crm.tests.processes import CeleryWorker, RedisServer, wait_until, worker_database_url

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROWS = 30_000
QUEUE = "import-drill"


def _send(broker_url: str, name: str, *args: object) -> None:
    client = Celery("drill-client", broker=broker_url)
    client.conf.task_serializer = "json"
    try:
        client.send_task(name, args=list(args), queue=QUEUE)
    finally:
        client.close()


def _job(pk: int) -> ImportJob:
    return ImportJob.objects.without_file().get(pk=pk)


def test_a_worker_killed_mid_import_is_replaced_and_every_row_is_saved_once(owner, tmp_path):
    data = "Last name,Email\n" + "".join(f"Drill{i},drill{i}@example.com\n" for i in range(ROWS))
    job = import_services.import_upload(actor=owner, kind="contacts", file_name="big.csv", data=data.encode())
    job.options = {**job.options, "match_key": "email"}
    job.preview = {"created": ROWS, "updated": 0, "skipped": 0, "rejected": 0}
    job.state = ImportState.PENDING  # confirmed, as import_confirm leaves it
    job.lease_until = timezone.now() + timedelta(minutes=5)
    job.save()

    redis = RedisServer().start()
    env = {
        **os.environ,
        "DATABASE_URL": worker_database_url(),
        "REDIS_URL": redis.url,
        "CACHE_URL": redis.url.rsplit("/", 1)[0] + "/1",
        "CELERY_QUEUE": QUEUE,
        "CRM_VAR_DIR": str(tmp_path),
        "JOB_LEASE_SECONDS": "4",
        "JOB_HEARTBEAT_SECONDS": "1",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DATABASE_REPLICA_URL", None)
    first = CeleryWorker(env=env, log_path=tmp_path / "first.log", name="import-first")
    second = CeleryWorker(env=env, log_path=tmp_path / "second.log", name="import-second")
    try:
        first.start()
        _send(redis.url, "contacts.tasks.import_run", job.pk)
        wait_until(
            lambda: _job(job.pk).state == ImportState.RUNNING and _job(job.pk).progress >= 7,
            timeout=180,
            interval=0.2,
            what="the import to be under way",
        )
        first.sigkill()
        killed = _job(job.pk)
        assert killed.state == ImportState.RUNNING, first.log()
        assert killed.attempts == 1
        assert not Contact.objects.exists()  # the import's transaction rolled back

        second.start()
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and _job(job.pk).state != ImportState.DONE:
            _send(redis.url, "contacts.tasks.import_sweep")  # what beat sends every minute
            time.sleep(3)
        done = _job(job.pk)
        assert done.state == ImportState.DONE, (done.state, done.error, second.log()[-3000:])
    finally:
        first.sigkill()
        second.sigkill()
        redis.kill()

    assert (done.created_count, done.attempts, done.progress, done.lease_until) == (ROWS, 2, 100, None)
    assert Contact.objects.count() == ROWS
    assert Contact.objects.values("email").distinct().count() == ROWS
