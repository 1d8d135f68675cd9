"""Keep the rollups fresh: every committed stage change (incl. won, lost, reopened) refreshes its deal."""

from __future__ import annotations

from functools import partial

from django.db import transaction
from django.dispatch import receiver

from deals.signals import deal_stage_changed
from reports.tasks import refresh_deal_rollups


@receiver(deal_stage_changed, dispatch_uid="reports-refresh-deal-rollups")
def enqueue_rollup_refresh(sender, *, deal, stage_change, **kwargs) -> None:
    transaction.on_commit(partial(refresh_deal_rollups.delay, deal.pk))
