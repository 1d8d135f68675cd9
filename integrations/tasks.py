"""Thin Celery tasks for outbound webhooks. No eta/countdown: due times live in the database
(``WebhookDelivery.next_attempt_at``) and the sweep finds them."""

from celery import shared_task

from integrations import webhooks


@shared_task(time_limit=120, soft_time_limit=110)
def webhook_sweep() -> int:
    """Beat, every WEBHOOK_SWEEP_SECONDS: claim due deliveries and send them."""
    return webhooks.webhook_sweep()


@shared_task(time_limit=120, soft_time_limit=110)
def webhook_deliver(*, ids: list[int]) -> int:
    """Right after the commit that created them (via the outbox): send these deliveries now.
    Idempotent: rows already claimed or sent are left alone."""
    return webhooks.webhook_sweep(ids=ids)
