"""Keep the rollups fresh: every stage change (incl. won, lost, reopened) and every edit queues a
refresh of its deal through the outbox, in the move's own transaction (so it happens once the move commits,
even if the broker is down then); a deal about to be deleted leaves the cells first."""

from __future__ import annotations

from django.db.models.signals import post_save, pre_delete
from django.dispatch import receiver

from activities.signals import activity_completed
from crm.services import outbox_enqueue
from deals.models import Deal
from deals.signals import deal_changed, deal_stage_changed
from reports.services import rollup_cells_forget_case, rollup_cells_forget_deal
from service.models import Case
from service.signals import case_changed

REFRESH_CUSTOMER_VALUE = "reports.tasks.refresh_customer_value"


@receiver(deal_stage_changed, dispatch_uid="reports-refresh-deal-rollups")
def enqueue_rollup_refresh(sender, *, deal, stage_change, **kwargs) -> None:
    # Idempotent: the refresh replaces the deal's facts, so a second delivery changes nothing.
    outbox_enqueue(task="reports.tasks.refresh_deal_rollups", args=[deal.pk])


@receiver(deal_changed, dispatch_uid="reports-refresh-edited-deal-rollups")
def enqueue_rollup_refresh_after_edit(sender, *, deal, **kwargs) -> None:
    # An edit changes what the facts copy (owner, amount, source, custom fields): the report
    # builder's groups and their drill-down lists then agree once the refresh has run.
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


# Profitability between nightly runs: work logged on a customer changes its cost to serve at
# once (the refresh is idempotent, so a repeated delivery changes nothing).
@receiver(activity_completed, dispatch_uid="reports-refresh-value-on-activity")
def enqueue_value_refresh_for_activity(sender, *, activity, **kwargs) -> None:
    company_id = activity.company_id
    if company_id is None and activity.contact_id is not None:
        company_id = activity.contact.company_id
    if company_id is None and activity.deal_id is not None:
        company_id = activity.deal.company_id
    if company_id is not None:
        outbox_enqueue(task=REFRESH_CUSTOMER_VALUE, args=[[company_id]])


@receiver(post_save, sender=Case, dispatch_uid="reports-refresh-value-on-case")
def enqueue_value_refresh_for_case(sender, instance: Case, created: bool, update_fields=None, **kwargs) -> None:
    # Only saves that may change the time (the case form and the API save every field).
    if instance.company_id is None or not instance.time_spent_minutes:
        return
    if update_fields is not None and "time_spent_minutes" not in update_fields:
        return
    outbox_enqueue(task=REFRESH_CUSTOMER_VALUE, args=[[instance.company_id]])
