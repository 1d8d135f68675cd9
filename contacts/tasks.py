"""Thin Celery tasks: a job id (or nothing) in, a service call, explicit time limits.

Imports: the dry run only acts on a job still being analysed, and the import only on a
confirmed job (a second delivery while it runs finds the job locked and leaves).
Data quality: beat (or a manager's "Refresh now") triggers them; ``contacts.duplicates`` /
``contacts.merge`` do the work.
"""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from contacts import import_services
from contacts.duplicates import contact_candidates_refresh, duplicates_refresh
from contacts.merge import merges_finalise

# A lost database connection is worth another try: the import is one transaction, so a
# failed attempt left nothing behind. Anything else (bad data, a constraint) would fail the
# same way again, so the job is marked failed with the reason instead.
RETRY_ON = (OperationalError, InterfaceError)


@shared_task(bind=True, time_limit=3600, soft_time_limit=3500, max_retries=2)
def import_analyse(self, job_id: int) -> None:
    import_services.import_analyse(job_id=job_id)


@shared_task(bind=True, time_limit=3600, soft_time_limit=3500, max_retries=2)
def import_run(self, job_id: int) -> None:
    try:
        import_services.import_execute(job_id=job_id)
    except RETRY_ON as exc:
        if self.request.retries >= self.max_retries:
            return  # recorded on the job as failed, with the reason
        import_services.import_requeue(job_id=job_id, error=str(exc))
        raise self.retry(exc=exc, countdown=30 * (self.request.retries + 1)) from exc
    except Exception:  # noqa: BLE001 (logged and recorded on the job by the service)
        return  # recorded on the job as failed, with the reason; retrying would fail again


@shared_task(time_limit=120, soft_time_limit=110)
def import_sweep() -> dict[str, int]:
    """Every minute (beat): imports whose worker stopped are sent again or failed."""
    return import_services.import_jobs_recover()


# At a million contacts the refresh scores a few million pairs; it runs nightly.
@shared_task(time_limit=2 * 60 * 60, soft_time_limit=2 * 60 * 60 - 60)
def refresh_duplicates() -> list[str]:
    """Nightly (beat) and on demand: recompute the duplicate candidates (idempotent)."""
    return [str(report) for report in duplicates_refresh()]


@shared_task(time_limit=60, soft_time_limit=55)
def match_contact(contact_id: int) -> int:
    """After a contact is saved: its duplicate candidates, recomputed (idempotent)."""
    return contact_candidates_refresh(contact_id=contact_id)


@shared_task(time_limit=300, soft_time_limit=280)
def finalise_merges() -> int:
    """Nightly (beat): merges past the undo window can no longer be undone (idempotent)."""
    return merges_finalise()
