"""Thin, idempotent Celery tasks: ids in, one service call. Queued through the outbox or by beat."""

from __future__ import annotations

import logging

from celery import shared_task

from reports import services
from reports.models import ReportSubscription, SavedReportSubscription

logger = logging.getLogger(__name__)


@shared_task(time_limit=60, soft_time_limit=50, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def refresh_deal_rollups(deal_id: int) -> bool:
    refreshed = services.rollups_refresh_for_deal(deal_id=deal_id)
    # A won (or un-won) deal changes its customer's revenue and margin: from the fresh facts.
    services.customer_value_refresh_for_deal(deal_id=deal_id)
    return refreshed


@shared_task(time_limit=60, soft_time_limit=50, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def refresh_case_rollups(case_id: int) -> bool:
    return services.rollups_refresh_for_case(case_id=case_id)


# Long on a large database (see README "Reports" for the measured time); one at a time is
# enforced by the lock on the pointer row, so an overlapping run simply waits.
@shared_task(time_limit=60 * 60, soft_time_limit=55 * 60)
def rebuild_rollups() -> int:
    return services.rollups_rebuild().pk


@shared_task(time_limit=10 * 60, soft_time_limit=9 * 60)
def take_forecast_snapshot() -> int:
    return services.forecast_snapshot_take()


@shared_task(time_limit=30 * 60, soft_time_limit=29 * 60)
def send_weekly_reports() -> int:
    sent = 0
    for subscription_id in ReportSubscription.objects.values_list("id", flat=True):
        try:
            sent += services.report_subscription_send(subscription_id=subscription_id)
        except Exception:
            # One bad mailbox must not hold up the others; tomorrow's run retries this one.
            logger.exception("Weekly report %s not sent", subscription_id)
    return sent


@shared_task(time_limit=60 * 60, soft_time_limit=55 * 60)
def recompute_customer_value() -> int:
    return services.customer_value_recompute().customers


# Idempotent: the rows are computed again from the data. Queued through the outbox by apps
# that report revenue from other systems (integrations, after a batch of events).
@shared_task(time_limit=5 * 60, soft_time_limit=4 * 60, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def refresh_customer_value(company_ids: list[int]) -> int:
    return services.customer_value_refresh_companies(company_ids=company_ids)


# Idempotent: each quiet spell is recorded under a unique constraint with its task.
@shared_task(time_limit=30 * 60, soft_time_limit=29 * 60, autoretry_for=(Exception,), retry_backoff=True, max_retries=3)
def follow_up_dormant_customers() -> int:
    return services.dormancy_followups_create()


@shared_task(time_limit=30 * 60, soft_time_limit=29 * 60)
def send_saved_report_emails() -> int:
    sent = 0
    for subscription_id in SavedReportSubscription.objects.values_list("id", flat=True):
        try:
            sent += services.saved_report_subscription_send(subscription_id=subscription_id)
        except Exception:
            logger.exception("Saved report email %s not sent", subscription_id)
    return sent
