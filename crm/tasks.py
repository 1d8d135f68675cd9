from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

from crm.services import outbox_sweep


@shared_task(time_limit=30)
def heartbeat() -> str:
    """Beat's proof of life: the time of the last tick, shown on /healthz."""
    now = timezone.now().isoformat()
    cache.set("celery-beat-heartbeat", now, 3600)
    return now


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
