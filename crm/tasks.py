from celery import shared_task

from crm.services import heartbeat_record


# Both limits: a time_limit alone is checked against the global soft limit (840 s) when the
# task is sent, and beat then failed to send it every minute ("soft_time_limit must be less
# than or equal to time_limit").
@shared_task(time_limit=30, soft_time_limit=25)
def heartbeat() -> str:
    """Beat's proof of life: beat sends it every minute, a worker records the time in the
    database, /healthz reports how long ago that was."""
    return heartbeat_record(name="beat").at.isoformat()
