"""Keep the rollups fresh: every stage change (incl. won, lost, reopened) queues a refresh of its
deal through the outbox, in the move's own transaction (so it happens once the move commits,
even if the broker is down then); a deal about to be deleted leaves the cells first."""

from __future__ import annotations

from django.db.models.signals import pre_delete
from django.dispatch import receiver

from crm.services import outbox_enqueue
from deals.models import Deal
from deals.signals import deal_stage_changed
from reports.services import rollup_cells_forget_case, rollup_cells_forget_deal
from service.models import Case
from service.signals import case_changed


@receiver(deal_stage_changed, dispatch_uid="reports-refresh-deal-rollups")
def enqueue_rollup_refresh(sender, *, deal, stage_change, **kwargs) -> None:
    # Idempotent: the refresh replaces the deal's facts, so a second delivery changes nothing.
    outbox_enqueue(task="reports.tasks.refresh_deal_rollups", args=[deal.pk])


@receiver(pre_delete, sender=Deal, dispatch_uid="reports-forget-deleted-deal")
def forget_deleted_deal(sender, instance, **kwargs) -> None:
    rollup_cells_forget_deal(deal_id=instance.pk)


@receiver(case_changed, dispatch_uid="reports-refresh-case-rollups")
def enqueue_case_refresh(sender, *, case, company_ids, **kwargs) -> None:
    # Both idempotent: the case's fact and the customers' value rows are computed again.
    outbox_enqueue(task="reports.tasks.refresh_case_rollups", args=[case.pk])
    if company_ids:
        outbox_enqueue(task="reports.tasks.refresh_customer_value", args=[list(company_ids)])


@receiver(pre_delete, sender=Case, dispatch_uid="reports-forget-deleted-case")
def forget_deleted_case(sender, instance, **kwargs) -> None:
    rollup_cells_forget_case(case_id=instance.pk)
