from celery import shared_task
from django.core.cache import cache
from django.utils import timezone


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
def send_password_reset_email(
    *, subject: str, body: str, from_email: str | None, to_email: str, html: str | None
) -> None:
    """Send a password reset email prepared by the reset form. Sent here rather than during the
    request, so the form's answer takes as long for an unknown address as for a known one."""
    from django.core.mail import EmailMultiAlternatives

    message = EmailMultiAlternatives(subject, body, from_email, [to_email])
    if html:
        message.attach_alternative(html, "text/html")
    message.send()
