"""The reports read cells (facts summed per owner, pipeline, month, …): on generated data they
show exactly what the same reports computed from the facts show — for a rep, a teammate, an
outsider, a manager and an admin, with the period, pipeline, team and owner filters — after a
rebuild, after incremental refreshes and after a deal is deleted. The ``*_from_facts``
functions below are the selectors as they were before the cells (aggregating the facts)."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pytest
from django.db.models import Avg, Count, Q, Sum
from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone

from deals.models import Deal, DealStatus, ExchangeRate, StageChange
from reports import selectors, services
from reports.models import DealFact, RollupPointer, StageFact, StageVisit
from reports.scope import report_scope_for_user
from reports.selectors import (
    ZERO,
    AccuracyRow,
    ForecastLine,
    ForecastReport,
    FunnelReport,
    FunnelRow,
    StageTime,
    VelocityReport,
    WinLossLine,
    WinLossReport,
    percent,
)
from reports.tests.factories import LostReasonFactory, deal_with_history, sales_pipeline

FUNNEL = ["Lead", "Qualified", "Proposal"]
SOURCES = ["", "referral", "website", "event"]


# The selectors as they were: every figure aggregated from the facts --------------------------


def _facts(model, scope, generation_id):
    qs = model.objects.filter(generation_id=generation_id).filter(scope.owner_filter())
    if scope.pipeline is not None:
        qs = qs.filter(pipeline_id=scope.pipeline.pk)
    return qs


def funnel_from_facts(scope, generation_id) -> FunnelReport:
    stages = list(scope.pipeline.stages.filter(is_lost=False).order_by("position", "id"))
    cells = {
        cell["stage_id"]: cell
        for cell in _facts(StageFact, scope, generation_id)
        .filter(entered_month__range=(scope.start, scope.end))
        .values("stage_id")
        .annotate(entered=Count("id"), later=Count("id", filter=Q(reached_later=True)), amount=Sum("amount_base"))
        .order_by()
    }
    top = cells.get(stages[0].pk, {}).get("entered", 0) if stages else 0
    rows = []
    for stage in stages:
        cell = cells.get(stage.pk, {})
        entered, later = cell.get("entered", 0), cell.get("later", 0)
        is_last = stage is stages[-1]
        rows.append(
            FunnelRow(
                stage=stage,
                entered=entered,
                reached_later=later,
                amount=cell.get("amount") or ZERO,
                conversion=None if is_last else percent(later, entered),
                of_top=percent(entered, top),
                is_last=is_last,
            )
        )
    return FunnelReport(rows=rows)


def forecast_from_facts(scope, generation_id) -> ForecastReport:
    cells = (
        _facts(DealFact, scope, generation_id)
        .filter(status=DealStatus.OPEN)
        .values("expected_close_month", "owner_id")
        .annotate(
            weighted=Sum("weighted_base"),
            unweighted=Sum("amount_base"),
            deals=Count("id"),
            missing=Count("id", filter=Q(rate_missing=True)),
        )
        .order_by()
    )
    this_month = timezone.localdate().replace(day=1)
    names = scope.owner_names
    months, owners, missing = {}, {}, 0
    for cell in cells:
        month = cell["expected_close_month"]
        line = months.setdefault(
            month,
            ForecastLine(
                key=month, label=f"{month:%Y-%m}" if month else "", overdue=bool(month and month < this_month)
            ),
        )
        by_owner = owners.setdefault(
            cell["owner_id"], ForecastLine(key=cell["owner_id"], label=names.get(cell["owner_id"], ""))
        )
        for target in (line, by_owner):
            target.weighted += cell["weighted"]
            target.unweighted += cell["unweighted"]
            target.deals += cell["deals"]
        missing += cell["missing"]
    by_month = sorted(months.values(), key=lambda line: (line.key is None, line.key or this_month))
    by_owner = sorted(owners.values(), key=lambda line: -line.weighted)
    return ForecastReport(by_month=by_month, by_owner=by_owner, missing_rates=missing)


def accuracy_from_facts(scope, generation_id) -> list[AccuracyRow]:
    forecast = {row.month: row for row in selectors.forecast_accuracy(scope, generation_id)}  # snapshots: unchanged
    actual = dict(
        _facts(DealFact, scope, generation_id)
        .filter(status=DealStatus.WON, closed_month__range=(scope.start, scope.end))
        .values("closed_month")
        .annotate(won=Sum("amount_base"))
        .order_by()
        .values_list("closed_month", "won")
    )
    return [
        AccuracyRow(
            month=month,
            forecast=forecast[month].forecast,
            forecast_unweighted=forecast[month].forecast_unweighted,
            actual=actual.get(month, ZERO),
        )
        for month in scope.months()
    ]


def winloss_from_facts(scope, generation_id, *, source_labels) -> WinLossReport:
    closed = _facts(DealFact, scope, generation_id).filter(
        status__in=[DealStatus.WON, DealStatus.LOST], closed_month__range=(scope.start, scope.end)
    )
    cells = (
        closed.values("closed_month", "owner_id", "source", "status")
        .annotate(deals=Count("id"), amount=Sum("amount_base"))
        .order_by()
    )
    months = {month: WinLossLine(key=month, label=f"{month:%Y-%m}") for month in scope.months()}
    owners, sources = {}, {}
    names = scope.owner_names
    for cell in cells:
        targets = [
            months.setdefault(cell["closed_month"], WinLossLine(key=cell["closed_month"], label="")),
            owners.setdefault(
                cell["owner_id"], WinLossLine(key=cell["owner_id"], label=names.get(cell["owner_id"], ""))
            ),
            sources.setdefault(
                cell["source"], WinLossLine(key=cell["source"], label=source_labels.get(cell["source"], cell["source"]))
            ),
        ]
        for line in targets:
            if cell["status"] == DealStatus.WON:
                line.won += cell["deals"]
                line.won_amount += cell["amount"]
            else:
                line.lost += cell["deals"]
                line.lost_amount += cell["amount"]
    reasons = [
        WinLossLine(
            key=row["lost_reason_id"],
            label=row["lost_reason__name"] or "",
            lost=row["deals"],
            lost_amount=row["amount"],
        )
        for row in closed.filter(status=DealStatus.LOST)
        .values("lost_reason_id", "lost_reason__name")
        .annotate(deals=Count("id"), amount=Sum("amount_base"))
        .order_by("-deals", "lost_reason__name")
    ]
    return WinLossReport(
        by_month=[months[key] for key in sorted(months)],
        by_owner=sorted(owners.values(), key=lambda line: (-(line.won + line.lost), line.label)),
        by_source=sorted(sources.values(), key=lambda line: (-(line.won + line.lost), line.label)),
        reasons=reasons,
    )


def velocity_from_facts(scope, generation_id) -> VelocityReport:
    period = Q(closed_month__range=(scope.start, scope.end))
    totals = _facts(DealFact, scope, generation_id).aggregate(
        open_deals=Count("id", filter=Q(status=DealStatus.OPEN)),
        won=Count("id", filter=Q(status=DealStatus.WON) & period),
        lost=Count("id", filter=Q(status=DealStatus.LOST) & period),
        average_won=Avg("amount_base", filter=Q(status=DealStatus.WON) & period),
        cycle_days=Avg("cycle_days", filter=Q(status=DealStatus.WON) & period),
    )
    stages = list(scope.pipeline.stages.order_by("position", "id"))
    cells = {
        cell["stage_id"]: cell
        for cell in _facts(StageVisit, scope, generation_id)
        .filter(left_month__range=(scope.start, scope.end))
        .values("stage_id")
        .annotate(visits=Count("id"), seconds=Avg("seconds"))
        .order_by()
    }
    stage_times = []
    for stage in stages:
        if stage.is_won or stage.is_lost:
            continue
        cell = cells.get(stage.pk, {})
        seconds = cell.get("seconds")
        stage_times.append(
            StageTime(
                stage=stage,
                visits=cell.get("visits", 0),
                average_days=None if seconds is None else round(float(seconds) / 86400, 1),
            )
        )
    cent = Decimal("0.01")
    return VelocityReport(
        stage_times=stage_times,
        open_deals=totals["open_deals"],
        won=totals["won"],
        lost=totals["lost"],
        average_won=None if totals["average_won"] is None else totals["average_won"].quantize(cent),
        cycle_days=None if totals["cycle_days"] is None else totals["cycle_days"].quantize(cent),
    )


def home_from_facts(scope, generation_id) -> dict:
    month = timezone.localdate().replace(day=1)
    since = timezone.now() - dt.timedelta(days=90)
    return _facts(DealFact, scope, generation_id).aggregate(
        weighted=Sum("weighted_base", filter=Q(status=DealStatus.OPEN, expected_close_month=month)),
        open_deals=Count("id", filter=Q(status=DealStatus.OPEN, expected_close_month=month)),
        won=Count("id", filter=Q(status=DealStatus.WON, closed_at__gte=since)),
        lost=Count("id", filter=Q(status=DealStatus.LOST, closed_at__gte=since)),
    )


# Generated data -------------------------------------------------------------------------------


def _history(rng: random.Random, stages: dict, start: dt.datetime, now: dt.datetime) -> list:
    moves, at = [], start
    for _i in range(rng.randint(1, 6)):
        name = rng.choice([*FUNNEL, *FUNNEL, "Won", "Lost"]) if moves else rng.choice(FUNNEL)
        moves.append((stages[name], at))
        at += dt.timedelta(hours=rng.randint(1, 24 * 45), minutes=rng.randint(0, 59))
        if at > now or name in ("Won", "Lost") and rng.random() < 0.7:
            break
    return moves


@pytest.fixture
def generated(owner, teammate, outsider, manager):
    """~160 deals of four owners in two pipelines, created over the last 14 months: random stage
    histories (skips, steps back, reopened deals), sources, lost reasons, currencies (one with
    no rate), probabilities and expected close dates (some none)."""
    rng = random.Random(20261123)
    now = timezone.now()
    ExchangeRate.objects.create(currency="EUR", date=(now - dt.timedelta(days=500)).date(), rate=Decimal("1.17"))
    ExchangeRate.objects.create(currency="EUR", date=(now - dt.timedelta(days=120)).date(), rate=Decimal("1.09"))
    reasons = [None, LostReasonFactory(name="Price"), LostReasonFactory(name="Timing"), LostReasonFactory(name="Other")]
    pipelines = [sales_pipeline("Sales cells"), sales_pipeline("Renewals cells", is_default=False)]
    owners = [owner, teammate, outsider, manager]
    deals = []
    for _i in range(160):
        _pipeline, stages = rng.choice(pipelines)
        start = now - dt.timedelta(days=rng.randint(5, 420), hours=rng.randint(0, 23))
        moves = _history(rng, stages, start, now)
        expected = None if rng.random() < 0.2 else (now + dt.timedelta(days=rng.randint(-60, 150))).date()
        deals.append(
            deal_with_history(
                owner=rng.choice(owners),
                moves=moves,
                amount=Decimal(rng.randint(0, 5_000_000)) / 100,
                currency=rng.choice(["USD", "USD", "EUR", "GBP"]),
                probability=rng.randint(0, 100),
                expected_close_date=expected,
                lost_reason=rng.choice(reasons) if moves[-1][0].is_lost else None,
                source=rng.choice(SOURCES),
            )
        )
    services.rollups_rebuild(chunk_size=40)
    return {"deals": deals, "pipelines": pipelines, "rng": rng}


def _params(user, north, south, pipelines, teammate) -> list[dict]:
    today = timezone.localdate()
    variants = [
        {},
        {"from": f"{today - dt.timedelta(days=400):%Y-%m}", "to": f"{today:%Y-%m}"},
        {"from": f"{today - dt.timedelta(days=95):%Y-%m}", "to": f"{today - dt.timedelta(days=95):%Y-%m}"},
        {"pipeline": str(pipelines[1][0].pk), "from": f"{today - dt.timedelta(days=300):%Y-%m}"},
    ]
    if user.is_manager or user.is_admin:
        variants += [
            {"team": str(north.pk)},
            {"owner": str(user.pk)},
            {"team": str(north.pk), "owner": str(teammate.pk)},
        ]
    if user.is_admin:
        variants += [{"team": str(south.pk), "pipeline": str(pipelines[1][0].pk)}]
    return variants


def assert_cells_match_facts(users, north, south, pipelines, teammate) -> int:
    gen = RollupPointer.objects.get(pk=1).generation_id
    labels = {"": "Unknown", "referral": "Referral"}
    compared = 0
    for user in users:
        for params in _params(user, north, south, pipelines, teammate):
            query = QueryDict(mutable=True)
            query.update(params)
            scope = report_scope_for_user(user, query, require_pipeline=True)
            anyp = report_scope_for_user(user, query)  # the pages without a required pipeline
            pairs = [
                (selectors.funnel_report(scope, gen), funnel_from_facts(scope, gen)),
                (selectors.velocity_report(scope, gen), velocity_from_facts(scope, gen)),
                (
                    selectors.forecast_report(anyp, gen),
                    forecast_from_facts(anyp, gen),
                ),
                (
                    selectors.forecast_accuracy(anyp, gen),
                    accuracy_from_facts(anyp, gen),
                ),
                (
                    selectors.winloss_report(anyp, gen, source_labels=labels),
                    winloss_from_facts(anyp, gen, source_labels=labels),
                ),
                (selectors.home_figures(anyp, gen), home_from_facts(anyp, gen)),
            ]
            for from_cells, from_facts in pairs:
                # repr: equal values with different exponents (Decimal("1.0") vs "1.00") differ too.
                assert repr(from_cells) == repr(from_facts), (user, params)
                compared += 1
    return compared


def cell_rows() -> dict[str, list[tuple]]:
    """Every cell of the current generation by its keys and values (without ids), sorted."""
    generation_id = RollupPointer.objects.get(pk=1).generation_id
    rows = {}
    for model in services.CELL_MODELS:
        fields = [f.attname for f in model._meta.concrete_fields if f.attname not in ("id", "generation_id")]
        rows[model.__name__] = sorted(model.objects.filter(generation_id=generation_id).values_list(*fields), key=repr)
    return rows


def _move(deal: Deal, stage, at: dt.datetime) -> None:
    last = StageChange.objects.filter(deal=deal).order_by("-at", "-id").first()
    StageChange.objects.create(deal=deal, from_stage=last.to_stage, to_stage=stage, at=at)
    status = DealStatus.WON if stage.is_won else DealStatus.LOST if stage.is_lost else DealStatus.OPEN
    Deal.objects.filter(pk=deal.pk).update(
        stage=stage, status=status, closed_at=None if status == DealStatus.OPEN else at
    )


# Tests ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_reports_from_cells_equal_reports_from_facts(
    generated, owner, teammate, outsider, manager, admin_user, north, south
):
    users = [owner, teammate, outsider, manager, admin_user]
    compared = assert_cells_match_facts(users, north, south, generated["pipelines"], teammate)
    assert compared == 6 * (4 + 4 + 4 + 7 + 8)
    # The data is not trivial: every kind of cell exists.
    assert all(rows for rows in cell_rows().values())


@pytest.mark.django_db
def test_incremental_refreshes_keep_the_cells_equal_to_a_rebuild(
    generated, owner, teammate, outsider, manager, admin_user, north, south
):
    rng = generated["rng"]
    now = timezone.now()
    stages_by_pipeline = {pipeline.pk: stages for pipeline, stages in generated["pipelines"]}
    touched = rng.sample(generated["deals"], 25)
    for deal in touched:
        stages = stages_by_pipeline[deal.pipeline_id]
        # Won, lost, reopened, stepped back or forward; some into a month of their own.
        target = stages[rng.choice([*FUNNEL, "Won", "Lost"])]
        _move(deal, target, now - dt.timedelta(days=rng.choice([0, 1, 40])))
        assert services.rollups_refresh_for_deal(deal_id=deal.pk) is True
    users = [owner, teammate, outsider, manager, admin_user]
    assert_cells_match_facts(users, north, south, generated["pipelines"], teammate)
    refreshed = cell_rows()
    services.rollups_rebuild()
    assert cell_rows() == refreshed


@pytest.mark.django_db
def test_deleting_a_deal_takes_it_out_of_the_cells(generated, owner, teammate, manager, admin_user, north, south):
    closed = [deal for deal in generated["deals"] if deal.status != DealStatus.OPEN]
    open_deal = next(deal for deal in generated["deals"] if deal.status == DealStatus.OPEN)
    for deal in [closed[0], closed[1], open_deal]:
        Deal.objects.get(pk=deal.pk).delete()
    assert not DealFact.objects.filter(deal_id=open_deal.pk).exists()
    assert_cells_match_facts([owner, manager, admin_user], north, south, generated["pipelines"], teammate)
    remaining = cell_rows()
    services.rollups_rebuild()
    assert cell_rows() == remaining


@pytest.mark.django_db
def test_a_refresh_without_a_generation_writes_no_cells(owner):
    _pipeline, stages = sales_pipeline()
    deal = deal_with_history(owner=owner, moves=[(stages["Lead"], timezone.now())])
    assert services.rollups_refresh_for_deal(deal_id=deal.pk) is False
    deal.delete()  # no generation: nothing to take out
    assert not any(model.objects.exists() for model in services.CELL_MODELS)


# Pinned per persona (rep, manager, admin): as many queries as when the pages read the facts.
PAGE_QUERIES = {
    "reports:funnel": (5, 8, 7),
    "reports:forecast": (4, 6, 6),
    "reports:accuracy": (5, 7, 7),
    "reports:winloss": (5, 7, 7),
    "reports:velocity": (6, 8, 8),
}


@pytest.mark.django_db
@pytest.mark.parametrize("name", list(PAGE_QUERIES))
def test_report_pages_pin_their_query_counts(
    name, generated, owner_client, manager_client, admin_client, django_assert_num_queries
):
    for client, expected in zip((owner_client, manager_client, admin_client), PAGE_QUERIES[name], strict=True):
        with django_assert_num_queries(expected):
            assert client.get(reverse(name)).status_code == 200


@pytest.mark.django_db
def test_the_home_panel_reads_its_figures_in_one_query(generated, manager, django_assert_num_queries):
    scope = report_scope_for_user(manager, QueryDict())
    generation_id = RollupPointer.objects.get(pk=1).generation_id
    with django_assert_num_queries(1):
        figures = selectors.home_figures(scope, generation_id)
    assert figures == home_from_facts(scope, generation_id)
