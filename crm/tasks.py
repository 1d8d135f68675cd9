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


@shared_task(time_limit=15 * 60)
def purge_security_events() -> int:
    """Delete security-log rows older than SECURITY_LOG_RETENTION_DAYS (nightly)."""
    from crm.security import security_events_purge

    return security_events_purge()


@shared_task(time_limit=120, soft_time_limit=110)
def outbox_relay() -> int:
    """Beat, every few seconds: send the outbox rows the immediate relay could not (idempotent)."""
    return outbox_sweep()
