"""Keep the rollups fresh: every stage change (incl. won, lost, reopened) queues a refresh of its
deal through the outbox, in the move's own transaction (so it happens once the move commits,
even if the broker is down then); a deal about to be deleted leaves the cells first."""

from __future__ import annotations

from django.db.models.signals import pre_delete
from django.dispatch import receiver

from crm.services import outbox_enqueue
from deals.models import Deal
from deals.signals import deal_stage_changed
from reports.services import rollup_cells_forget_deal


@receiver(deal_stage_changed, dispatch_uid="reports-refresh-deal-rollups")
def enqueue_rollup_refresh(sender, *, deal, stage_change, **kwargs) -> None:
    # Idempotent: the refresh replaces the deal's facts, so a second delivery changes nothing.
    outbox_enqueue(task="reports.tasks.refresh_deal_rollups", args=[deal.pk])


@receiver(pre_delete, sender=Deal, dispatch_uid="reports-forget-deleted-deal")
def forget_deleted_deal(sender, instance, **kwargs) -> None:
    rollup_cells_forget_deal(deal_id=instance.pk)
