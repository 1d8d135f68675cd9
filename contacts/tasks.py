"""Thin Celery tasks for data quality: beat (or a manager's "Refresh now") triggers them,
``contacts.duplicates`` / ``contacts.merge`` do the work."""

from celery import shared_task

from contacts.duplicates import duplicates_refresh
from contacts.merge import merges_finalise


# At a million contacts the refresh scores a few million pairs; it runs nightly.
@shared_task(time_limit=2 * 60 * 60, soft_time_limit=2 * 60 * 60 - 60)
def refresh_duplicates() -> list[str]:
    """Nightly (beat) and on demand: recompute the duplicate candidates (idempotent)."""
    return [str(report) for report in duplicates_refresh()]


@shared_task(time_limit=300, soft_time_limit=280)
def finalise_merges() -> int:
    """Nightly (beat): merges past the undo window can no longer be undone (idempotent)."""
    return merges_finalise()
