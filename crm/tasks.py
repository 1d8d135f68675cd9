from celery import shared_task
from django.core.cache import cache
from django.utils import timezone


@shared_task(time_limit=30)
def heartbeat() -> str:
    """Beat's proof of life: the time of the last tick, shown on /healthz."""
    now = timezone.now().isoformat()
    cache.set("celery-beat-heartbeat", now, 3600)
    return now
