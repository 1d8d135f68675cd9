"""Imports whose worker stops: the lease, the sweep that resumes or fails them, and Retry.

The sweep and the lease run here as the beat sweep and the worker run them, against the
real database; ``test_import_drill.py`` does the same with real worker processes.
"""

from __future__ import annotations

import time
from datetime import timedelta

import psycopg2
import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from contacts import import_services, tasks
from contacts.models import Contact, ImportJob, ImportState


def make_job(owner, *, state=ImportState.RUNNING, attempts=1, lease_ago=30, preview=True):
    job = import_services.import_upload(
        actor=owner, kind="contacts", file_name="people.csv", data=b"Last name,Email\nPetrov,p@example.com\n"
    )
    job.state = state
    job.attempts = attempts
    job.lease_until = timezone.now() - timedelta(seconds=lease_ago)
    job.preview = {"created": 1, "updated": 0, "skipped": 0, "rejected": 0} if preview else {}
    job.started_at = timezone.now() if state == ImportState.RUNNING else None
    job.progress = 37
    job.save()
    return job


def _other_connection():
    db = connection.settings_dict
    return psycopg2.connect(
        dbname=db["NAME"], user=db["USER"] or "postgres", host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432
    )


class TestSweep:
    def test_a_running_job_whose_lease_ran_out_is_sent_again(self, owner, django_capture_on_commit_callbacks):
        job = make_job(owner)
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            assert import_services.import_jobs_recover() == {"resent": 1, "failed": 0}
        job.refresh_from_db()
        assert (job.state, job.progress, job.attempts) == (ImportState.PENDING, 0, 1)
        assert job.lease_until > timezone.now()
        assert len(callbacks) == 1

    def test_a_job_still_waiting_for_a_worker_is_sent_again_without_counting_an_attempt(
        self, owner, django_capture_on_commit_callbacks
    ):
        job = make_job(owner, state=ImportState.ANALYSING, attempts=0, preview=False)
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            assert import_services.import_jobs_recover() == {"resent": 1, "failed": 0}
        job.refresh_from_db()
        assert (job.state, job.attempts) == (ImportState.ANALYSING, 0)
        assert len(callbacks) == 1

    def test_a_job_whose_worker_stopped_too_often_fails_with_the_reason(
        self, owner, settings, django_capture_on_commit_callbacks
    ):
        settings.JOB_MAX_ATTEMPTS = 3
        job = make_job(owner, attempts=3)
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            assert import_services.import_jobs_recover() == {"resent": 0, "failed": 1}
        job.refresh_from_db()
        assert job.state == ImportState.FAILED
        assert job.error == (
            "The worker stopped while importing this file (3 attempts); the import was rolled back each time."
        )
        assert job.lease_until is None and job.finished_at is not None
        assert callbacks == []

    def test_a_job_within_its_lease_is_left_alone(self, owner):
        job = make_job(owner, lease_ago=-30)
        assert import_services.import_jobs_recover() == {"resent": 0, "failed": 0}
        job.refresh_from_db()
        assert job.state == ImportState.RUNNING

    def test_a_job_whose_worker_still_holds_its_lock_is_left_alone(self, owner):
        """A late lease renewal is not a dead worker: the lock goes only with the connection."""
        job = make_job(owner)
        other = _other_connection()
        try:
            with other.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_lock(%s, %s)", [import_services._LOCK_CLASS, job.pk])
            assert import_services.import_jobs_recover() == {"resent": 0, "failed": 0}
        finally:
            other.close()
        job.refresh_from_db()
        assert job.state == ImportState.RUNNING

    def test_finished_jobs_are_never_touched(self, owner):
        done = make_job(owner, state=ImportState.DONE)
        failed = make_job(owner, state=ImportState.FAILED)
        assert import_services.import_jobs_recover() == {"resent": 0, "failed": 0}
        assert ImportJob.objects.get(pk=done.pk).state == ImportState.DONE
        assert ImportJob.objects.get(pk=failed.pk).state == ImportState.FAILED


class TestClaim:
    def test_a_resent_job_runs_from_the_start_and_saves_each_row_once(self, owner, django_capture_on_commit_callbacks):
        job = make_job(owner)  # a worker died while importing it
        with django_capture_on_commit_callbacks(execute=False):
            import_services.import_jobs_recover()
        tasks.import_run(job.pk)
        job.refresh_from_db()
        assert (job.state, job.created_count, job.attempts, job.progress) == (ImportState.DONE, 1, 2, 100)
        assert job.lease_until is None
        assert Contact.objects.filter(last_name="Petrov").count() == 1

    def test_a_job_out_of_attempts_is_failed_by_the_worker_too(self, owner, settings):
        """task_reject_on_worker_lost redelivers a message whose worker process was killed:
        a file that kills its worker every time must not loop for ever."""
        settings.JOB_MAX_ATTEMPTS = 2
        job = make_job(owner, state=ImportState.PENDING, attempts=2)
        assert import_services.import_execute(job_id=job.pk) is None
        job.refresh_from_db()
        assert job.state == ImportState.FAILED
        assert "2 attempts" in job.error
        assert not Contact.objects.exists()

    def test_a_second_delivery_while_a_worker_runs_the_job_leaves_it_alone(self, owner):
        job = make_job(owner, state=ImportState.PENDING, attempts=0)
        other = _other_connection()
        try:
            with other.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_lock(%s, %s)", [import_services._LOCK_CLASS, job.pk])
            assert import_services.import_execute(job_id=job.pk) is None
        finally:
            other.close()
        job.refresh_from_db()
        assert (job.state, job.attempts) == (ImportState.PENDING, 0)


@pytest.mark.django_db(transaction=True)
def test_the_worker_renews_the_lease_and_stores_the_progress_in_the_database(owner, settings):
    settings.JOB_HEARTBEAT_SECONDS = 1
    settings.JOB_LEASE_SECONDS = 10
    job = make_job(owner, lease_ago=0)
    with import_services._leased(job.pk) as progress:
        progress(42)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            job.refresh_from_db()
            if job.progress == 42:
                break
            time.sleep(0.1)
    assert job.progress == 42
    assert job.lease_until > timezone.now() + timedelta(seconds=5)
    assert import_services.import_progress(job) == 42


class TestRetry:
    def test_the_owner_retries_a_failed_import(self, owner, owner_client, django_capture_on_commit_callbacks):
        job = make_job(owner, state=ImportState.FAILED, attempts=3)
        page = owner_client.get(job.get_absolute_url()).content.decode()
        assert 'id="import-retry"' in page
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            response = owner_client.post(reverse("contacts:import-retry", args=[job.pk]))
        assert response.status_code == 302
        job.refresh_from_db()
        assert (job.state, job.attempts, job.error) == (ImportState.PENDING, 0, "")
        assert len(callbacks) == 1
        for callback in callbacks:
            callback()  # the message a worker would take
        # What the worker then does:
        tasks.import_run(job.pk)
        job.refresh_from_db()
        assert job.state == ImportState.DONE
        assert Contact.objects.filter(last_name="Petrov", owner=owner).count() == 1

    def test_a_failed_dry_run_is_retried_from_the_dry_run(
        self, owner, owner_client, django_capture_on_commit_callbacks
    ):
        job = make_job(owner, state=ImportState.FAILED, preview=False)
        with django_capture_on_commit_callbacks(execute=False):
            owner_client.post(reverse("contacts:import-retry", args=[job.pk]))
        job.refresh_from_db()
        assert job.state == ImportState.ANALYSING

    def test_an_admin_may_retry_someone_elses_import_which_runs_as_its_owner(
        self, owner, admin_client, django_capture_on_commit_callbacks
    ):
        job = make_job(owner, state=ImportState.FAILED)
        with django_capture_on_commit_callbacks(execute=False):
            assert admin_client.post(reverse("contacts:import-retry", args=[job.pk])).status_code == 302
        job.refresh_from_db()
        assert (job.state, job.owner) == (ImportState.PENDING, owner)

    @pytest.mark.parametrize("who", ["teammate", "outsider"])
    def test_anyone_else_gets_404(self, owner, who, client_for):
        job = make_job(owner, state=ImportState.FAILED)
        assert client_for(who).post(reverse("contacts:import-retry", args=[job.pk])).status_code == 404
        assert client_for(who).get(job.get_absolute_url()).status_code == 404
        job.refresh_from_db()
        assert job.state == ImportState.FAILED

    def test_only_a_failed_import_can_be_retried(self, owner, owner_client):
        job = make_job(owner, state=ImportState.DONE)
        response = owner_client.post(reverse("contacts:import-retry", args=[job.pk]), follow=True)
        assert "Only a failed import can be tried again." in response.content.decode()
        job.refresh_from_db()
        assert job.state == ImportState.DONE
        assert 'id="import-retry"' not in owner_client.get(job.get_absolute_url()).content.decode()

    def test_retry_needs_a_post(self, owner, owner_client):
        job = make_job(owner, state=ImportState.FAILED)
        assert owner_client.get(reverse("contacts:import-retry", args=[job.pk])).status_code == 405


class TestPacing:
    def test_the_pacer_pauses_in_proportion_to_the_work_since_its_last_call(self, monkeypatch):
        clock, slept = [100.0], []
        monkeypatch.setattr(import_services.time, "monotonic", lambda: clock[0])
        monkeypatch.setattr(import_services.time, "sleep", slept.append)
        pace = import_services.Pacer(25)  # busy a quarter of the time
        clock[0] += 1.0  # a second of work
        pace()
        clock[0] += 0.5
        pace()
        assert slept == [3.0, 1.5]
        unpaced = import_services.Pacer(100)
        clock[0] += 1.0
        unpaced()
        assert slept == [3.0, 1.5]

    def test_the_run_pauses_between_its_steps_and_the_preview_does_not(self, owner, settings, monkeypatch):
        settings.IMPORT_BUSY_PERCENT = 50
        paused = []
        monkeypatch.setattr(import_services.time, "sleep", paused.append)
        rows = "".join(f"Paced{i},paced{i}@example.com\n" for i in range(2500))
        job = import_services.import_upload(
            actor=owner, kind="contacts", file_name="paced.csv", data=("Last name,Email\n" + rows).encode()
        )
        job.state = ImportState.ANALYSING
        job.save()
        import_services.import_analyse(job_id=job.pk)
        job.refresh_from_db()
        assert job.preview["created"] == 2500
        assert paced_pauses(paused) == 0  # someone is waiting for the preview

        job.state = ImportState.PENDING
        job.save()
        import_services.import_execute(job_id=job.pk)
        job.refresh_from_db()
        assert (job.state, job.created_count) == (ImportState.DONE, 2500)
        assert Contact.objects.filter(last_name__startswith="Paced").count() == 2500
        # A pause after each thousand rows checked and each step of the write.
        assert paced_pauses(paused) >= 5


def paced_pauses(paused: list[float]) -> int:
    return sum(1 for seconds in paused if seconds > 0)
