"""Thin Celery tasks: ids in, a service call out."""

from celery import shared_task

from campaigns import services
from campaigns.models import Campaign
from crm.models import User


@shared_task(time_limit=1800, soft_time_limit=1750, acks_late=True)
def create_call_tasks(campaign_id: int, actor_id: int) -> int:
    """A large call campaign's tasks, after its start commits (outbox). Idempotent: members
    that already have a task are skipped, so a redelivery creates nothing twice."""
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    actor = User.objects.filter(pk=actor_id).first()
    if campaign is None or actor is None:
        return 0
    return services.campaign_create_call_tasks(campaign=campaign, actor=actor)
