"""Thin Celery tasks: ids in, a service does the work."""

from celery import shared_task

from deals import quotes


@shared_task(time_limit=120, soft_time_limit=110)
def quote_email_send(email_id: int) -> str | None:
    """Through the outbox, once the request that queued it has committed."""
    return quotes.quote_email_deliver(email_id=email_id)


@shared_task(time_limit=300, soft_time_limit=280)
def quote_email_sweep() -> int:
    """Beat: retries that are due, and any queued email whose first task was lost."""
    return quotes.quote_email_sweep()
