from celery import shared_task

from crm.services import heartbeat_record, outbox_sweep


# Both limits: a time_limit alone is checked against the global soft limit (840 s) when the
# task is sent, and beat then failed to send it every minute ("soft_time_limit must be less
# than or equal to time_limit").
@shared_task(time_limit=30, soft_time_limit=25)
def heartbeat() -> str:
    """Beat's proof of life: beat sends it every minute, a worker records the time in the
    database, /healthz reports how long ago that was."""
    return heartbeat_record(name="beat").at.isoformat()


@shared_task(time_limit=15 * 60, soft_time_limit=14 * 60)
def purge_security_events() -> int:
    """Delete security-log rows older than SECURITY_LOG_RETENTION_DAYS (nightly)."""
    from crm.security import security_events_purge

    return security_events_purge()


@shared_task(time_limit=120, soft_time_limit=110)
def outbox_relay() -> int:
    """Beat, every few seconds: send the outbox rows the immediate relay could not (idempotent)."""
    return outbox_sweep()


@shared_task(time_limit=120, soft_time_limit=110)
def send_password_reset(*, email: str, domain: str, use_https: bool) -> int:
    """Email a reset link to each active user with ``email`` (none when nobody has it): Django's
    reset form, run here so the request that asked takes as long for any address."""
    from django.contrib.auth.forms import PasswordResetForm

    form = PasswordResetForm({"email": email})
    if not form.is_valid():
        return 0
    users = list(form.get_users(email))
    if users:
        form.save(domain_override=domain, use_https=use_https)
    return len(users)


@shared_task(time_limit=60 * 60, soft_time_limit=59 * 60)
def run_bulk_job(job_id: int) -> int:
    """A large bulk action (or its undo), resumed from where it got to if run again."""
    from crm.bulk_actions import bulk_job_continue

    job = bulk_job_continue(job_id=job_id)
    return job.processed if job is not None else 0
