"""Reads for the app shell and the health check."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import Http404
from django.utils import timezone

from crm.models import Heartbeat, Notification, User


def notification_for_user(user: User, pk: int) -> Notification:
    try:
        return Notification.objects.get(pk=pk, user=user)
    except Notification.DoesNotExist:
        raise Http404 from None


def unread_notification_count(user: User) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def health_status() -> dict[str, str]:
    """Status of each part the CRM needs: "ok" or a short reason."""
    status = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        status["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means "down", reported by name
        status["database"] = f"error: {exc.__class__.__name__}"
    try:
        # The cache swallows Redis errors (crm/cache.py); ping does not.
        cache.ping()
        cache.set("healthz", "1", 10)
        status["redis"] = "ok" if cache.get("healthz") == "1" else "error: read back failed"
    except Exception as exc:  # noqa: BLE001
        status["redis"] = f"error: {exc.__class__.__name__}"
    status["celery"] = _celery_status() if status["redis"] == "ok" else "unknown: broker down"
    status["beat"] = _beat_status() if status["database"] == "ok" else "unknown: database down"
    return status


def _beat_status() -> str:
    """Beat sends the heartbeat task every minute and a worker records it: a recent one means
    beat, the broker and a worker all work."""
    try:
        at = Heartbeat.objects.filter(name="beat").values_list("at", flat=True).first()
    except Exception as exc:  # noqa: BLE001
        return f"error: {exc.__class__.__name__}"
    if at is None:
        return "error: no heartbeat yet"
    age = int((timezone.now() - at).total_seconds())
    if age > settings.BEAT_HEARTBEAT_MAX_AGE:
        return f"error: last heartbeat {age} s ago"
    return "ok"


def _celery_status() -> str:
    from crm.celery import app

    try:
        # A fresh connection each time: a pooled one can outlive a broker restart.
        with app.connection_for_write() as conn:
            replies = app.control.ping(timeout=1.0, connection=conn)
    except Exception as exc:  # noqa: BLE001
        return f"error: {exc.__class__.__name__}"
    return "ok" if replies else "error: no worker answered"
