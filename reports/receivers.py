"""Keep the rollups fresh: every committed stage change (incl. won, lost, reopened) refreshes its
deal; a deal about to be deleted (its facts are deleted with it) leaves the cells first."""

from __future__ import annotations

from functools import partial

from django.db import transaction
from django.db.models.signals import pre_delete
from django.dispatch import receiver

from deals.models import Deal
from deals.signals import deal_stage_changed
from reports.services import rollup_cells_forget_deal
from reports.tasks import refresh_deal_rollups


@receiver(deal_stage_changed, dispatch_uid="reports-refresh-deal-rollups")
def enqueue_rollup_refresh(sender, *, deal, stage_change, **kwargs) -> None:
    transaction.on_commit(partial(refresh_deal_rollups.delay, deal.pk))


@receiver(pre_delete, sender=Deal, dispatch_uid="reports-forget-deleted-deal")
def forget_deleted_deal(sender, instance, **kwargs) -> None:
    rollup_cells_forget_deal(deal_id=instance.pk)
