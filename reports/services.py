"""Writes of the reports app: building the rollups, forecast snapshots, subscriptions.

Rollup facts are derived per deal from its StageChange history (``deal_facts``), so the
nightly full rebuild and the incremental refresh after one stage change run the same code.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import Count, Exists, OuterRef, Q, Sum
from django.db.models.functions import TruncWeek
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from activities.models import Activity, ActivityType
from activities.services import activity_create
from contacts.models import Contact
from crm.models import Team, User
from deals.models import Deal, DealStatus, Stage, StageChange
from deals.money import CENT, MissingRate, RateBook
from reports import value
from reports.models import (
    ActivityWeek,
    CohortCell,
    CrossSellSuggestion,
    CustomerValue,
    DealFact,
    DormancyFollowUp,
    DormantCell,
    ForecastSnapshot,
    ProductCustomers,
    ProductPair,
    ReportSubscription,
    RollupGeneration,
    RollupPointer,
    SegmentCell,
    StageFact,
    StageVisit,
    ValueRun,
)
from reports.scope import add_months
from reports.selectors import rollup_status, team_summary

logger = logging.getLogger(__name__)

DEAL_FIELDS = (
    "id",
    "owner_id",
    "pipeline_id",
    "company_id",
    "status",
    "source",
    "lost_reason_id",
    "amount",
    "currency",
    "probability",
    "expected_close_date",
    "created_at",
    "closed_at",
)


def month_of(value: dt.datetime | dt.date) -> dt.date:
    if isinstance(value, dt.datetime):
        value = timezone.localtime(value).date()
    return value.replace(day=1)


@dataclass
class FactContext:
    """What every deal's facts need besides its own rows: stages and exchange rates."""

    rates: RateBook
    today: dt.date
    # pipeline id → {stage id: rank} over the funnel stages (all but lost), ordered by position.
    ranks: dict[int, dict[int, int]] = field(default_factory=dict)
    # rank → stage id, per pipeline.
    stage_at_rank: dict[int, list[int]] = field(default_factory=dict)
    stage_pipeline: dict[int, int] = field(default_factory=dict)

    @classmethod
    def load(cls) -> FactContext:
        context = cls(rates=RateBook(), today=timezone.localdate())
        stages = Stage.objects.order_by("pipeline_id", "position", "id").values_list("id", "pipeline_id", "is_lost")
        for stage_id, pipeline_id, is_lost in stages:
            context.stage_pipeline[stage_id] = pipeline_id
            if is_lost:
                continue
            order = context.stage_at_rank.setdefault(pipeline_id, [])
            context.ranks.setdefault(pipeline_id, {})[stage_id] = len(order)
            order.append(stage_id)
        return context


@dataclass
class DealFacts:
    deal: DealFact
    stages: list[StageFact]
    visits: list[StageVisit]


def deal_facts(deal: dict, changes: list[tuple[int, dt.datetime]], context: FactContext) -> DealFacts:
    """Facts of one deal (a ``DEAL_FIELDS`` dict) from its stage changes ``(to_stage_id, at)`` in order.

    Funnel entry: a move into a stage enters it; a forward move also enters every stage it
    skips. Each stage is entered once (the first time), so going back and forward again does
    not count twice. ``reached_later``: at or after that entry the deal stood in a later stage.
    Lost stages are not funnel steps: moving to one enters nothing.
    """
    closed_at: dt.datetime | None = deal["closed_at"]
    rate_on = timezone.localtime(closed_at).date() if closed_at else context.today
    rate_missing = False
    try:
        amount_base = context.rates.to_base(deal["amount"], deal["currency"], rate_on)
    except MissingRate:
        amount_base, rate_missing = Decimal("0.00"), True
    weighted = (amount_base * deal["probability"] / Decimal(100)).quantize(CENT, rounding=ROUND_HALF_UP)
    cycle_days = None
    if deal["status"] == DealStatus.WON and closed_at:
        seconds = (closed_at - deal["created_at"]).total_seconds()
        cycle_days = (Decimal(seconds) / Decimal(86400)).quantize(CENT, rounding=ROUND_HALF_UP)
    fact = DealFact(
        deal_id=deal["id"],
        owner_id=deal["owner_id"],
        pipeline_id=deal["pipeline_id"],
        company_id=deal["company_id"],
        status=deal["status"],
        source=deal["source"],
        lost_reason_id=deal["lost_reason_id"],
        created_at=deal["created_at"],
        created_month=month_of(deal["created_at"]),
        closed_at=closed_at,
        closed_month=month_of(closed_at) if closed_at else None,
        expected_close_month=month_of(deal["expected_close_date"]) if deal["expected_close_date"] else None,
        probability=deal["probability"],
        amount_base=amount_base,
        weighted_base=weighted,
        rate_missing=rate_missing,
        cycle_days=cycle_days,
    )

    pipeline_id = deal["pipeline_id"]
    ranks = context.ranks.get(pipeline_id, {})
    order = context.stage_at_rank.get(pipeline_id, [])
    # rank → index of the change that entered it; ranks_seen[i] is the rank after change i.
    entered: dict[int, int] = {}
    ranks_seen: list[int | None] = []
    current: int | None = None
    for index, (stage_id, _at) in enumerate(changes):
        rank = ranks.get(stage_id)
        ranks_seen.append(rank)
        if rank is None:
            continue
        newly = range(current + 1, rank + 1) if current is not None and rank > current else [rank]
        for step in newly:
            entered.setdefault(step, index)
        current = rank
    stage_facts = []
    for rank, index in sorted(entered.items()):
        later = any(seen is not None and seen > rank for seen in ranks_seen[index:])
        at = changes[index][1]
        stage_facts.append(
            StageFact(
                deal_id=deal["id"],
                owner_id=deal["owner_id"],
                pipeline_id=pipeline_id,
                stage_id=order[rank],
                entered_at=at,
                entered_month=month_of(at),
                reached_later=later,
                amount_base=amount_base,
            )
        )
    visits = [
        StageVisit(
            deal_id=deal["id"],
            owner_id=deal["owner_id"],
            pipeline_id=context.stage_pipeline.get(stage_id, pipeline_id),
            stage_id=stage_id,
            left_at=left_at,
            left_month=month_of(left_at),
            seconds=int((left_at - at).total_seconds()),
        )
        for (stage_id, at), (_next, left_at) in zip(changes, changes[1:], strict=False)
    ]
    return DealFacts(deal=fact, stages=stage_facts, visits=visits)


def _changes_by_deal(deal_ids: Iterable[int]) -> dict[int, list[tuple[int, dt.datetime]]]:
    changes: dict[int, list[tuple[int, dt.datetime]]] = {}
    rows = (
        StageChange.objects.filter(deal_id__in=list(deal_ids))
        .order_by("deal_id", "at", "id")
        .values_list("deal_id", "to_stage_id", "at")
    )
    for deal_id, stage_id, at in rows:
        changes.setdefault(deal_id, []).append((stage_id, at))
    return changes


def _write_facts(generation_id: int, deals: list[dict], context: FactContext) -> int:
    changes = _changes_by_deal(deal["id"] for deal in deals)
    deal_rows, stage_rows, visit_rows = [], [], []
    for deal in deals:
        facts = deal_facts(deal, changes.get(deal["id"], []), context)
        for row in [facts.deal, *facts.stages, *facts.visits]:
            row.generation_id = generation_id
        deal_rows.append(facts.deal)
        stage_rows.extend(facts.stages)
        visit_rows.extend(facts.visits)
    DealFact.objects.bulk_create(deal_rows, batch_size=2000)
    StageFact.objects.bulk_create(stage_rows, batch_size=2000)
    StageVisit.objects.bulk_create(visit_rows, batch_size=2000)
    return len(deal_rows)


def _deal_chunks(chunk_size: int) -> Iterator[list[dict]]:
    last_id = 0
    while True:
        chunk = list(Deal.objects.filter(pk__gt=last_id).order_by("pk").values(*DEAL_FIELDS)[:chunk_size])
        if not chunk:
            return
        yield chunk
        last_id = chunk[-1]["id"]


KEEP_GENERATIONS = 10
ACTIVITY_KEYS = {"calls": "call", "meetings": "meeting", "tasks_done": "task"}


def _write_activity_weeks(generation_id: int) -> int:
    """Done calls, meetings and tasks per owner and week: one GROUP BY over the activities."""
    cells = (
        Activity.objects.filter(done_at__isnull=False, type__key__in=ACTIVITY_KEYS.values())
        .annotate(week=TruncWeek("done_at"))
        .values("owner_id", "week")
        .annotate(**{name: Count("id", filter=Q(type__key=key)) for name, key in ACTIVITY_KEYS.items()})
        .order_by()
    )
    rows = [
        ActivityWeek(
            generation_id=generation_id,
            owner_id=cell["owner_id"],
            week=timezone.localtime(cell["week"]).date(),
            calls=cell["calls"],
            meetings=cell["meetings"],
            tasks_done=cell["tasks_done"],
        )
        for cell in cells
    ]
    ActivityWeek.objects.bulk_create(rows, batch_size=2000)
    return len(rows)


def _locked_pointer() -> RollupPointer:
    RollupPointer.objects.get_or_create(pk=1)
    return RollupPointer.objects.select_for_update().get(pk=1)


def rollups_rebuild(*, chunk_size: int = 5000) -> RollupGeneration:
    """Rebuild every fact under a new generation and switch readers to it in one transaction.

    The pointer row stays locked until commit, so incremental refreshes wait for the rebuild
    instead of writing into a generation that is about to be replaced. If anything fails half
    way the transaction rolls back and readers keep the previous generation.
    """
    started = time.monotonic()
    with transaction.atomic():
        pointer = _locked_pointer()
        generation = RollupGeneration.objects.create()
        context = FactContext.load()
        count = 0
        for chunk in _deal_chunks(chunk_size):
            count += _write_facts(generation.pk, chunk, context)
        _write_activity_weeks(generation.pk)
        now = timezone.now()
        generation.finished_at = now
        generation.deal_count = count
        generation.seconds = round(time.monotonic() - started, 3)
        generation.save(update_fields=["finished_at", "deal_count", "seconds"])
        pointer.generation = generation
        pointer.refreshed_at = now
        pointer.save(update_fields=["generation", "refreshed_at"])
        for model in (DealFact, StageFact, StageVisit, ActivityWeek):
            model.objects.exclude(generation=generation).delete()
        # Keep a short history of rebuild times (Admin › Rollup generations), not every night's row.
        keep = RollupGeneration.objects.order_by("-started_at", "-id").values_list("id", flat=True)[:KEEP_GENERATIONS]
        RollupGeneration.objects.exclude(pk__in=list(keep)).delete()
    logger.info("Rollups rebuilt: %s deals in %.1fs", count, generation.seconds)
    return generation


def rollups_refresh_for_deal(*, deal_id: int) -> bool:
    """Replace one deal's facts in the current generation (after a stage change or close).

    Returns False when there is no generation yet: the first full rebuild will include the deal.
    """
    with transaction.atomic():
        pointer = _locked_pointer()
        if pointer.generation_id is None:
            return False
        for model in (DealFact, StageFact, StageVisit):
            model.objects.filter(generation_id=pointer.generation_id, deal_id=deal_id).delete()
        deals = list(Deal.objects.filter(pk=deal_id).values(*DEAL_FIELDS))
        if deals:
            _write_facts(pointer.generation_id, deals, FactContext.load())
        pointer.refreshed_at = timezone.now()
        pointer.save(update_fields=["refreshed_at"])
    return True


def forecast_snapshot_take(*, month: dt.date | None = None) -> int:
    """Store the open pipeline by owner, pipeline and expected close month for ``month``.

    Taken once per month (the beat runs it as the month begins); a second run in the same
    month keeps the first snapshot, which is the one forecast accuracy is measured against.
    """
    month = month_of(month or timezone.localdate())
    with transaction.atomic():
        pointer = _locked_pointer()
        if pointer.generation_id is None or ForecastSnapshot.objects.filter(month=month).exists():
            return 0
        cells = (
            DealFact.objects.filter(
                generation_id=pointer.generation_id, status=DealStatus.OPEN, expected_close_month__isnull=False
            )
            .values("owner_id", "pipeline_id", "expected_close_month")
            .annotate(weighted=Sum("weighted_base"), unweighted=Sum("amount_base"), deals=Count("id"))
            .order_by()
        )
        now = timezone.now()
        rows = [
            ForecastSnapshot(
                month=month,
                owner_id=cell["owner_id"],
                pipeline_id=cell["pipeline_id"],
                close_month=cell["expected_close_month"],
                weighted_base=cell["weighted"],
                unweighted_base=cell["unweighted"],
                deal_count=cell["deals"],
                taken_at=now,
            )
            for cell in cells
        ]
        ForecastSnapshot.objects.bulk_create(rows)
    return len(rows)


def report_subscription_toggle(*, user: User, team: Team) -> bool:
    """Subscribe ``user`` to the team's weekly email, or unsubscribe; returns the new state."""
    deleted, _ = ReportSubscription.objects.filter(user=user, team=team).delete()
    if deleted:
        return False
    ReportSubscription.objects.get_or_create(user=user, team=team)
    return True


def iso_week(day: dt.date) -> str:
    year, week, _weekday = day.isocalendar()
    return f"{year}-W{week:02d}"


def report_subscription_send(*, subscription_id: int, today: dt.date | None = None) -> bool:
    """Email one weekly summary unless this week's was already sent; True when sent."""
    week = iso_week(today or timezone.localdate())
    with transaction.atomic():
        subscription = (
            ReportSubscription.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("user", "team")
            .filter(pk=subscription_id)
            .exclude(last_sent_week=week)
            .first()
        )
        if subscription is None or not subscription.user.email:
            return False
        summary = team_summary(team=subscription.team, user=subscription.user, today=today or timezone.localdate())
        context = {"subscription": subscription, "summary": summary, "week": week, "site_url": settings.SITE_URL}
        context["base_currency"] = settings.BASE_CURRENCY
        send_mail(
            subject=render_to_string("reports/email/weekly_subject.txt", context).strip(),
            message=render_to_string("reports/email/weekly_body.txt", context),
            from_email=None,
            recipient_list=[subscription.user.email],
        )
        subscription.last_sent_week = week
        subscription.save(update_fields=["last_sent_week"])
    return True


# Customer value ------------------------------------------------------------------------

CROSS_SELL_MIN_CUSTOMERS = 2
VALUE_TABLES = (
    CrossSellSuggestion,
    ProductPair,
    ProductCustomers,
    CohortCell,
    SegmentCell,
    DormantCell,
    CustomerValue,
)


def _locked_value_run() -> ValueRun:
    ValueRun.objects.get_or_create(pk=1)
    return ValueRun.objects.select_for_update().get(pk=1)


def lifespan_from_churn(*, earlier: int, churned: int) -> tuple[Decimal | None, Decimal]:
    """(annual churn, expected lifespan in years): lifespan = 1 ÷ churn, within 1 … the maximum;
    the CUSTOMER_LIFESPAN_YEARS setting while fewer than CHURN_MIN_CUSTOMERS can be observed."""
    if earlier < settings.CHURN_MIN_CUSTOMERS:
        return None, Decimal(settings.CUSTOMER_LIFESPAN_YEARS)
    churn = (Decimal(churned) / Decimal(earlier)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
    maximum = Decimal(settings.CUSTOMER_LIFESPAN_MAX_YEARS)
    lifespan = maximum if churn == 0 else min(max(Decimal(1) / churn, Decimal(1)), maximum)
    return churn, lifespan.quantize(CENT, rounding=ROUND_HALF_UP)


def customer_value_recompute(*, now: dt.datetime | None = None) -> ValueRun:
    """Rebuild every customer-value table from the current rollup generation, atomically.

    One transaction: the previous rows are deleted and the new ones inserted with set-based
    INSERT … SELECT; under PostgreSQL's MVCC readers keep seeing the previous rows until the
    commit, and a run that fails rolls back leaving them. The lock on the ``ValueRun`` row
    makes a second run wait instead of interleaving. Builds the rollups first if none exist.
    """
    started = time.monotonic()
    now = now or timezone.now()
    today = timezone.localdate(now)
    if rollup_status().generation_id is None:
        rollups_rebuild()
    with transaction.atomic():
        run = _locked_value_run()
        params = {
            "tz": timezone.get_current_timezone_name(),
            "now": now,
            "today": today,
            "year_start": today.replace(month=1, day=1),
            "year_ago": today - dt.timedelta(days=365),
            "two_years_ago": today - dt.timedelta(days=730),
            "window_start": add_months(today, -settings.RFM_WINDOW_MONTHS),
            "dormant_before": now - dt.timedelta(days=settings.DORMANT_DAYS),
            "min_customers": CROSS_SELL_MIN_CUSTOMERS,
        }
        with connection.cursor() as cursor:
            cursor.execute(value.SNAPSHOT_DEALS, params)
            cursor.execute(value.CHURN, params)
            earlier, churned = cursor.fetchone()
            churn, lifespan = lifespan_from_churn(earlier=earlier, churned=churned)
            params["lifespan"] = lifespan
            for model in VALUE_TABLES:
                model.objects.all().delete()
            for statement in (
                value.INSERT_CUSTOMER_VALUE,
                value.INSERT_SEGMENT_CELLS,
                value.INSERT_DORMANT_CELLS,
                value.INSERT_COHORTS,
                value.SNAPSHOT_BASKETS,
                value.INSERT_PRODUCT_CUSTOMERS,
                value.INSERT_PRODUCT_PAIRS,
                value.INSERT_SUGGESTIONS,
                value.INSERT_PEER_SUGGESTIONS,
                value.UPDATE_COMPANY_SEGMENTS,
            ):
                cursor.execute(statement, params)
        counts = CustomerValue.objects.aggregate(customers=Count("pk"), scored=Count("pk", filter=~Q(segment="")))
        run.computed_at = now
        run.customers = counts["customers"]
        run.scored = counts["scored"]
        run.window_months = settings.RFM_WINDOW_MONTHS
        run.churn_rate = churn
        run.lifespan_years = lifespan
        run.seconds = round(time.monotonic() - started, 3)
        run.save()
    logger.info("Customer value computed: %s customers in %.1fs", run.customers, run.seconds)
    return run


def _still_dormant(company_id: int, since: dt.datetime) -> bool:
    """Re-checked live before creating a follow-up, in case the nightly figures are stale.

    Three indexed look-ups (activities on the company, on its contacts, on its deals) rather
    than one OR across joins, which PostgreSQL can only answer by scanning every activity.
    """
    if Deal.objects.filter(company_id=company_id, status=DealStatus.OPEN).exists():
        return False
    if Deal.objects.filter(company_id=company_id, status=DealStatus.WON, closed_at__gt=since).exists():
        return False
    done_since = Activity.objects.filter(done_at__gt=since)
    return not (
        done_since.filter(company_id=company_id).exists()
        or done_since.filter(contact__in=Contact.objects.filter(company_id=company_id).values("pk")).exists()
        or done_since.filter(deal__in=Deal.objects.filter(company_id=company_id).values("pk")).exists()
    )


def dormancy_followups_create(*, now: dt.datetime | None = None) -> int:
    """One follow-up task for the owner of each newly dormant customer; returns how many were created.

    Each quiet spell (company, last touch) is recorded in ``DormancyFollowUp`` under a unique
    constraint in the same transaction as its task, so a second run, a retry or a concurrent
    run creates nothing twice (a concurrent insert waits for the first and then finds it).
    """
    now = now or timezone.now()
    task_type = ActivityType.objects.filter(key="task").first()
    if task_type is None:
        return 0
    candidates = (
        CustomerValue.objects.filter(is_dormant=True, last_touch_at__isnull=False)
        .exclude(company__archived_at__isnull=False)
        .annotate(
            done=Exists(
                DormancyFollowUp.objects.filter(
                    company_id=OuterRef("company_id"), dormant_since=OuterRef("last_touch_at")
                )
            )
        )
        .filter(done=False)
        .select_related("company__owner")
        .order_by("-lifetime_value", "company_id")
    )
    created = 0
    for row in candidates.iterator(chunk_size=500):
        company = row.company
        with transaction.atomic():
            if not _still_dormant(company.pk, row.last_touch_at):
                continue
            follow_up, is_new = DormancyFollowUp.objects.get_or_create(
                company=company, dormant_since=row.last_touch_at, defaults={"created_at": now}
            )
            if not is_new:
                continue
            days = (now - row.last_touch_at).days
            follow_up.activity = activity_create(
                actor=company.owner,
                owner=company.owner,
                type=task_type,
                subject=_("Follow up with %(company)s: quiet for %(days)s days") % {"company": company, "days": days},
                body=_(
                    "No activity and no purchase since %(since)s, and no open deal. "
                    "Last purchase: %(last)s. Lifetime value: %(ltv)s %(currency)s."
                )
                % {
                    "since": f"{timezone.localtime(row.last_touch_at):%Y-%m-%d}",
                    "last": f"{row.last_won_on:%Y-%m-%d}" if row.last_won_on else "–",
                    "ltv": f"{row.lifetime_value:,.0f}",
                    "currency": settings.BASE_CURRENCY,
                },
                company=company,
                due_at=now + dt.timedelta(days=1),
            )
            follow_up.save(update_fields=["activity"])
            created += 1
    return created
