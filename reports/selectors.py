"""Report figures, read from the current rollup generation only (a few GROUP BYs per page).

The deal reports sum the generation's cells (``ClosedCell``, ``LostReasonCell``, ``OpenCell``,
``FunnelCell``, ``StageTimeCell``: the facts summed per owner, pipeline, month and the
report's dimensions), a few thousand rows for an admin's six months instead of tens of
thousands of facts. Every filter the pages offer (period in months, pipeline, team, owner) is
a condition on the cells' keys; only the home panel's "last 90 days" does not fall on month
boundaries and reads the facts of its first month.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection
from django.db.models import Case as Case_
from django.db.models import Count, DecimalField, ExpressionWrapper, F, Q, Sum, Value, When
from django.db.models.functions import NullIf
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from activities.models import Activity
from contacts.models import ValueSegment
from crm.models import Team
from deals.models import DealStatus, Pipeline, Product, Stage
from reports.models import (
    ActivityWeek,
    BacklogCell,
    CaseCell,
    ClosedCell,
    CohortCell,
    CrossSellSuggestion,
    CsatCell,
    CustomerProfit,
    CustomerValue,
    DormancyFollowUp,
    DormantCell,
    ForecastSnapshot,
    FunnelCell,
    LostReasonCell,
    OpenCell,
    ProductCustomers,
    ProductPair,
    ProfitBucket,
    ProfitCell,
    ProfitGroup,
    ReportSubscription,
    RollupGeneration,
    RollupPointer,
    SegmentCell,
    StageTimeCell,
    ValueRun,
)
from reports.scope import ReportScope, ServiceScope, TeamChoice, add_months
from reports.value import AT_RISK_SEGMENTS, SEGMENT_ADVICE, SEGMENT_ORDER
from service.models import CasePriority

ZERO = Decimal("0.00")


def percent(part: int | Decimal, whole: int | Decimal) -> float | None:
    return round(float(part) * 100 / float(whole), 1) if whole else None


@dataclass(frozen=True)
class RollupStatus:
    generation_id: int | None
    refreshed_at: dt.datetime | None
    rebuilt: RollupGeneration | None


def rollup_status() -> RollupStatus:
    pointer = RollupPointer.objects.select_related("generation").filter(pk=1).first()
    if pointer is None:
        return RollupStatus(generation_id=None, refreshed_at=None, rebuilt=None)
    return RollupStatus(pointer.generation_id, pointer.refreshed_at, pointer.generation)


def _divide(total: str, count: str, *, where: Q) -> ExpressionWrapper:
    """sum(total) ÷ sum(count) over the matching cells, as numeric: the same division ``AVG``
    does over the facts (their sum ÷ their count), so the same digits."""
    return ExpressionWrapper(
        Sum(total, filter=where) / NullIf(Sum(count, filter=where), 0), output_field=DecimalField()
    )


def _scope_conditions(scope: ReportScope, generation_id: int | None) -> tuple[str, dict]:
    """The scope's generation, owners and pipeline as SQL on a cell or fact table (no alias)."""
    conditions = ["generation_id = %(generation)s"]
    params: dict = {"generation": generation_id}
    if scope.owner_ids is not None:
        conditions.append("owner_id = ANY(%(owners)s)")
        params["owners"] = sorted(scope.owner_ids)
    if scope.pipeline is not None:
        conditions.append("pipeline_id = %(pipeline)s")
        params["pipeline"] = scope.pipeline.pk
    return " AND ".join(conditions), params


def _grouping_sets(
    model,
    scope: ReportScope,
    generation_id: int | None,
    *,
    sets: dict[str, tuple[str, ...]],
    sums: dict[str, str],
    period: tuple[str, dt.date, dt.date] | None = None,
) -> dict[str, list[dict]]:
    """The scope's cells summed per grouping set, in one query: {set name: [row, …]}.

    A page's margins (by month, by owner, by source) are read directly instead of summing
    thousands of (month, owner, source) groups in Python. ``GROUPING()`` tells the sets apart,
    so a null key (no expected close month) stays a group of its own."""
    columns = list(dict.fromkeys(column for keys in sets.values() for column in keys))
    where, params = _scope_conditions(scope, generation_id)
    conditions = [where]
    if period is not None:
        conditions.append(f"{period[0]} BETWEEN %(start)s AND %(end)s")
        params["start"], params["end"] = period[1], period[2]
    grouping_sets = ", ".join("(" + ", ".join(keys) + ")" for keys in sets.values())
    sql = (
        f"SELECT GROUPING({', '.join(columns)}), {', '.join(columns)}, "  # noqa: S608 (SQL names from model metadata and module constants; values are bound parameters)
        f"{', '.join(f'{expression} AS {name}' for name, expression in sums.items())} "
        f"FROM {model._meta.db_table} WHERE {' AND '.join(conditions)} "
        f"GROUP BY GROUPING SETS ({grouping_sets})"
    )
    # GROUPING() sets a bit (leftmost column highest) for each column *not* in the row's set.
    names = {
        sum(1 << (len(columns) - 1 - i) for i, column in enumerate(columns) if column not in keys): name
        for name, keys in sets.items()
    }
    result: dict[str, list[dict]] = {name: [] for name in sets}
    fields = [*columns, *sums]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for grouping, *values in cursor.fetchall():
            result[names[grouping]].append(dict(zip(fields, values, strict=True)))
    return result


def _facts(model, scope: ReportScope, generation_id: int | None):
    qs = model.objects.filter(generation_id=generation_id).filter(scope.owner_filter())
    if scope.pipeline is not None:
        qs = qs.filter(pipeline_id=scope.pipeline.pk)
    return qs


# Funnel ---------------------------------------------------------------------------------


@dataclass
class FunnelRow:
    stage: Stage
    entered: int
    reached_later: int
    amount: Decimal
    conversion: float | None  # share of this stage's entrants that reached a later stage
    of_top: float | None  # entrants as a share of the first stage's entrants
    is_last: bool = False

    @property
    def dropped(self) -> int | None:
        return None if self.is_last else self.entered - self.reached_later


@dataclass
class FunnelReport:
    rows: list[FunnelRow]

    @property
    def overall_conversion(self) -> float | None:
        return self.rows[-1].of_top if self.rows else None


def funnel_report(scope: ReportScope, generation_id: int | None) -> FunnelReport:
    if scope.pipeline is None:
        return FunnelReport(rows=[])
    # Deleted stages (the pipeline editor hides used ones) stay while the period has entrants.
    stages = list(Stage.all_objects.filter(pipeline=scope.pipeline, is_lost=False).order_by("position", "id"))
    cells = {
        cell["stage_id"]: cell
        for cell in _facts(FunnelCell, scope, generation_id)
        .filter(entered_month__range=(scope.start, scope.end))
        .values("stage_id")
        .annotate(n=Sum("entered"), later=Sum("reached_later"), amount=Sum("amount_base"))
        .order_by()
    }
    stages = [stage for stage in stages if stage.archived_at is None or cells.get(stage.pk, {}).get("n")]
    top = cells.get(stages[0].pk, {}).get("n", 0) if stages else 0
    rows = []
    for stage in stages:
        cell = cells.get(stage.pk, {})
        entered, later = cell.get("n", 0), cell.get("later", 0)
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


# Forecast -------------------------------------------------------------------------------


@dataclass
class ForecastLine:
    key: object
    label: str
    weighted: Decimal = ZERO
    unweighted: Decimal = ZERO
    deals: int = 0
    overdue: bool = False


@dataclass
class ForecastReport:
    by_month: list[ForecastLine]
    by_owner: list[ForecastLine]
    missing_rates: int

    @property
    def total(self) -> ForecastLine:
        line = ForecastLine(key=None, label="")
        for row in self.by_month:
            line.weighted += row.weighted
            line.unweighted += row.unweighted
            line.deals += row.deals
        return line


def forecast_report(scope: ReportScope, generation_id: int | None) -> ForecastReport:
    cells = _grouping_sets(
        OpenCell,
        scope,
        generation_id,
        sets={"month": ("expected_close_month",), "owner": ("owner_id",)},
        sums={
            "weighted": "sum(weighted_base)",
            "unweighted": "sum(amount_base)",
            "n": "sum(deals)",
            "missing": "sum(rate_missing)",
        },
    )
    this_month = timezone.localdate().replace(day=1)
    names = scope.owner_names
    months: dict[dt.date | None, ForecastLine] = {}
    owners: dict[int, ForecastLine] = {}
    missing = 0
    for cell in cells["month"]:
        month = cell["expected_close_month"]
        months[month] = ForecastLine(
            key=month,
            label=f"{month:%Y-%m}" if month else "",
            weighted=cell["weighted"],
            unweighted=cell["unweighted"],
            deals=cell["n"],
            overdue=bool(month and month < this_month),
        )
        missing += cell["missing"]
    for cell in cells["owner"]:
        owner_id = cell["owner_id"]
        owners[owner_id] = ForecastLine(
            key=owner_id,
            label=names.get(owner_id, ""),
            weighted=cell["weighted"],
            unweighted=cell["unweighted"],
            deals=cell["n"],
        )
    # Dated months first in calendar order, then deals without an expected close date.
    by_month = sorted(months.values(), key=lambda line: (line.key is None, line.key or this_month))
    by_owner = sorted(owners.values(), key=lambda line: -line.weighted)
    return ForecastReport(by_month=by_month, by_owner=by_owner, missing_rates=missing)


@dataclass
class AccuracyRow:
    month: dt.date
    forecast: Decimal | None
    forecast_unweighted: Decimal | None
    actual: Decimal

    @property
    def accuracy(self) -> float | None:
        return percent(self.actual, self.forecast) if self.forecast else None


def forecast_accuracy(scope: ReportScope, generation_id: int | None) -> list[AccuracyRow]:
    """Per month: the weighted forecast snapshotted as it began vs the amount actually won in it."""
    snapshots = ForecastSnapshot.objects.filter(
        scope.owner_filter(), month__range=(scope.start, scope.end), close_month=F("month")
    )
    if scope.pipeline is not None:
        snapshots = snapshots.filter(pipeline_id=scope.pipeline.pk)
    forecast = {
        row["month"]: row
        for row in snapshots.values("month")
        .annotate(weighted=Sum("weighted_base"), unweighted=Sum("unweighted_base"))
        .order_by()
    }
    actual = dict(
        _facts(ClosedCell, scope, generation_id)
        .filter(status=DealStatus.WON, closed_month__range=(scope.start, scope.end))
        .values("closed_month")
        .annotate(won=Sum("amount_base"))
        .order_by()
        .values_list("closed_month", "won")
    )
    return [
        AccuracyRow(
            month=month,
            forecast=forecast[month]["weighted"] if month in forecast else None,
            forecast_unweighted=forecast[month]["unweighted"] if month in forecast else None,
            actual=actual.get(month, ZERO),
        )
        for month in scope.months()
    ]


# Win/loss -------------------------------------------------------------------------------


@dataclass
class WinLossLine:
    key: object
    label: str
    won: int = 0
    lost: int = 0
    won_amount: Decimal = ZERO
    lost_amount: Decimal = ZERO

    @property
    def win_rate(self) -> float | None:
        return percent(self.won, self.won + self.lost)


@dataclass
class WinLossReport:
    by_month: list[WinLossLine]
    by_owner: list[WinLossLine]
    by_source: list[WinLossLine]
    reasons: list[WinLossLine]

    @property
    def total(self) -> WinLossLine:
        line = WinLossLine(key=None, label="")
        for row in self.by_month:
            line.won += row.won
            line.lost += row.lost
            line.won_amount += row.won_amount
            line.lost_amount += row.lost_amount
        return line


def winloss_report(scope: ReportScope, generation_id: int | None, *, source_labels: dict[str, str]) -> WinLossReport:
    period = Q(closed_month__range=(scope.start, scope.end))
    cells = _grouping_sets(
        ClosedCell,
        scope,
        generation_id,
        sets={"month": ("closed_month", "status"), "owner": ("owner_id", "status"), "source": ("source", "status")},
        sums={"n": "sum(deals)", "amount": "sum(amount_base)"},
        period=("closed_month", scope.start, scope.end),
    )
    months = {month: WinLossLine(key=month, label=f"{month:%Y-%m}") for month in scope.months()}
    owners: dict[int, WinLossLine] = {}
    sources: dict[str, WinLossLine] = {}
    names = scope.owner_names
    for grouping, cell in [(name, cell) for name, rows in cells.items() for cell in rows]:
        if grouping == "month":
            line = months.setdefault(cell["closed_month"], WinLossLine(key=cell["closed_month"], label=""))
        elif grouping == "owner":
            line = owners.setdefault(
                cell["owner_id"], WinLossLine(key=cell["owner_id"], label=names.get(cell["owner_id"], ""))
            )
        else:
            line = sources.setdefault(
                cell["source"], WinLossLine(key=cell["source"], label=source_labels.get(cell["source"], cell["source"]))
            )
        if cell["status"] == DealStatus.WON:
            line.won += cell["n"]
            line.won_amount += cell["amount"]
        else:
            line.lost += cell["n"]
            line.lost_amount += cell["amount"]
    reasons = [
        WinLossLine(
            key=row["lost_reason_id"],
            label=row["lost_reason__name"] or "",
            lost=row["n"],
            lost_amount=row["amount"],
        )
        for row in _facts(LostReasonCell, scope, generation_id)
        .filter(period)
        .values("lost_reason_id", "lost_reason__name")
        .annotate(n=Sum("deals"), amount=Sum("amount_base"))
        .order_by("-n", "lost_reason__name")
    ]
    return WinLossReport(
        by_month=[months[key] for key in sorted(months)],
        by_owner=sorted(owners.values(), key=lambda line: (-(line.won + line.lost), line.label)),
        by_source=sorted(sources.values(), key=lambda line: (-(line.won + line.lost), line.label)),
        reasons=reasons,
    )


# Velocity -------------------------------------------------------------------------------


@dataclass
class StageTime:
    stage: Stage
    visits: int
    average_days: float | None


@dataclass
class VelocityReport:
    stage_times: list[StageTime]
    open_deals: int
    won: int
    lost: int
    average_won: Decimal | None
    cycle_days: Decimal | None
    win_rate: float | None = field(init=False)

    def __post_init__(self) -> None:
        self.win_rate = percent(self.won, self.won + self.lost)

    @property
    def velocity_per_day(self) -> Decimal | None:
        """Sales velocity = open deals × win rate × average won size ÷ average cycle length (days)."""
        if not (self.won + self.lost) or self.average_won is None or not self.cycle_days:
            return None
        rate = Decimal(self.won) / Decimal(self.won + self.lost)
        return (self.open_deals * rate * self.average_won / self.cycle_days).quantize(Decimal("0.01"))

    @property
    def velocity_per_month(self) -> Decimal | None:
        per_day = self.velocity_per_day
        return None if per_day is None else (per_day * 30).quantize(Decimal("0.01"))


# Averages as ``AVG`` over the facts computes them: their sum divided by their count (numeric).
_VELOCITY_TOTALS_SQL = """
SELECT (SELECT coalesce(sum(deals), 0) FROM reports_opencell WHERE {where}),
       coalesce(sum(deals) FILTER (WHERE status = %(won)s), 0),
       coalesce(sum(deals) FILTER (WHERE status = %(lost)s), 0),
       sum(amount_base) FILTER (WHERE status = %(won)s)
           / NULLIF(sum(deals) FILTER (WHERE status = %(won)s), 0),
       sum(cycle_days) FILTER (WHERE status = %(won)s)
           / NULLIF(sum(cycle_deals) FILTER (WHERE status = %(won)s), 0)
FROM reports_closedcell
WHERE {where} AND closed_month BETWEEN %(start)s AND %(end)s
"""


def velocity_report(scope: ReportScope, generation_id: int | None) -> VelocityReport:
    where, params = _scope_conditions(scope, generation_id)
    params.update(start=scope.start, end=scope.end, won=DealStatus.WON.value, lost=DealStatus.LOST.value)
    with connection.cursor() as cursor:
        cursor.execute(_VELOCITY_TOTALS_SQL.format(where=where), params)
        open_deals, won, lost, average_won, cycle_days = cursor.fetchone()
    stage_times = []
    if scope.pipeline is not None:
        stages = list(Stage.all_objects.filter(pipeline=scope.pipeline).order_by("position", "id"))
        cells = {
            cell["stage_id"]: cell
            for cell in _facts(StageTimeCell, scope, generation_id)
            .filter(left_month__range=(scope.start, scope.end))
            .values("stage_id")
            .annotate(n=Sum("visits"), average_seconds=_divide("seconds", "visits", where=Q()))
            .order_by()
        }
        for stage in stages:
            if stage.is_won or stage.is_lost:
                continue  # closed deals stay there; time in them is not part of the cycle
            if stage.archived_at is not None and not cells.get(stage.pk, {}).get("n"):
                continue  # a deleted stage with no stays in the period
            cell = cells.get(stage.pk, {})
            seconds = cell.get("average_seconds")
            stage_times.append(
                StageTime(
                    stage=stage,
                    visits=cell.get("n", 0),
                    average_days=None if seconds is None else round(float(seconds) / 86400, 1),
                )
            )
    quantize = Decimal("0.01")
    return VelocityReport(
        stage_times=stage_times,
        open_deals=open_deals,
        won=won,
        lost=lost,
        average_won=None if average_won is None else average_won.quantize(quantize),
        cycle_days=None if cycle_days is None else cycle_days.quantize(quantize),
    )


# Subscriptions and summaries ----------------------------------------------------------


def subscribed_team_ids(user) -> set[int]:
    return set(ReportSubscription.objects.filter(user=user).values_list("team_id", flat=True))


@dataclass
class TeamSummary:
    team: Team
    pipeline: Pipeline | None
    funnel: FunnelReport
    forecast: ForecastReport
    winloss_month: WinLossLine
    start: dt.date
    end: dt.date


def team_summary(*, team: Team, user, today: dt.date) -> TeamSummary:
    """The weekly email's figures: the team's funnel and win/loss this month, its open forecast."""
    member_ids = frozenset(team.members.values_list("id", flat=True))
    choice = TeamChoice(id=team.pk, name=team.name, member_ids=member_ids)
    pipelines = list(Pipeline.objects.all())
    month = today.replace(day=1)
    scope = ReportScope(
        user=user,
        allowed_owner_ids=member_ids,
        owners=list(team.members.all()),
        teams=[choice],
        pipelines=pipelines,
        pipeline=next((p for p in pipelines if p.is_default), pipelines[0] if pipelines else None),
        team=choice,
        start=add_months(month, -1),
        end=month,
    )
    generation_id = rollup_status().generation_id
    winloss = winloss_report(scope, generation_id, source_labels={})
    forecast_scope = replace(scope, pipeline=None)
    return TeamSummary(
        team=team,
        pipeline=scope.pipeline,
        funnel=funnel_report(scope, generation_id),
        forecast=forecast_report(forecast_scope, generation_id),
        winloss_month=winloss.total,
        start=scope.start,
        end=scope.end,
    )


_HOME_FIGURES_SQL = """
WITH forecast AS (
    SELECT sum(c.weighted_base) AS weighted, coalesce(sum(c.deals), 0) AS open_deals
    FROM reports_opencell c
    WHERE c.generation_id = %(generation)s AND c.expected_close_month = %(month)s {cells}
), closed AS (
    SELECT c.status, c.deals FROM reports_closedcell c
    WHERE c.generation_id = %(generation)s AND c.closed_month > %(first_month)s {cells}
    UNION ALL
    SELECT c.status, 1 FROM reports_dealfact c
    WHERE c.generation_id = %(generation)s AND c.closed_month = %(first_month)s
      AND c.status IN (%(won)s, %(lost)s) AND c.closed_at >= %(since)s {cells}
)
SELECT forecast.weighted, forecast.open_deals, totals.won, totals.lost
FROM forecast, (
    SELECT coalesce(sum(deals) FILTER (WHERE status = %(won)s), 0) AS won,
           coalesce(sum(deals) FILTER (WHERE status = %(lost)s), 0) AS lost
    FROM closed
) totals
"""


def home_figures(scope: ReportScope, generation_id: int | None) -> dict:
    """This month's weighted forecast and the win rate over the last 90 days, for the home panel.

    One query over the cells. The 90 days do not start on a month boundary: the cells count
    the later months whole, the facts of the first month are read with their close time.
    Months are the facts' (``settings.TIME_ZONE``)."""
    month = timezone.localdate().replace(day=1)
    since = timezone.now() - dt.timedelta(days=90)
    first_month = timezone.localtime(since, ZoneInfo(settings.TIME_ZONE)).date().replace(day=1)
    params = {
        "generation": generation_id,
        "month": month,
        "first_month": first_month,
        "since": since,
        "won": DealStatus.WON.value,
        "lost": DealStatus.LOST.value,
    }
    conditions = ""
    if scope.owner_ids is not None:
        conditions += " AND c.owner_id = ANY(%(owners)s)"
        params["owners"] = sorted(scope.owner_ids)
    if scope.pipeline is not None:
        conditions += " AND c.pipeline_id = %(pipeline)s"
        params["pipeline"] = scope.pipeline.pk
    with connection.cursor() as cursor:
        cursor.execute(_HOME_FIGURES_SQL.format(cells=conditions), params)
        weighted, open_deals, won, lost = cursor.fetchone()
    return {"weighted": weighted, "open_deals": open_deals, "won": won, "lost": lost}


# Activity -------------------------------------------------------------------------------


@dataclass
class ActivityLine:
    key: object
    label: str
    calls: int = 0
    meetings: int = 0
    tasks_done: int = 0
    overdue: int = 0

    @property
    def total(self) -> int:
        return self.calls + self.meetings + self.tasks_done


@dataclass
class ActivityReport:
    by_week: list[ActivityLine]
    leaderboard: list[ActivityLine]
    cells: list[ActivityLine]  # one per owner and week, for the CSV (activity_report's with_cells)


def activity_report(scope: ReportScope, generation_id: int | None, *, with_cells: bool = False) -> ActivityReport:
    """Done calls, meetings and tasks per rep and week from the rollup; overdue tasks as of now.
    ``cells`` (one line per owner and week, for the CSV) only ``with_cells``: an admin's year
    is ~1,000 of them, summed here as plain tuples."""
    cells = (
        ActivityWeek.objects.filter(scope.owner_filter(), generation_id=generation_id)
        .filter(week__gte=scope.start, week__lt=add_months(scope.end, 1))
        .values_list("week", "owner_id", "calls", "meetings", "tasks_done")
        .order_by("week", "owner_id")
    )
    overdue = dict(
        Activity.objects.filter(scope.owner_filter(), type__key="task", done_at__isnull=True, due_at__lt=timezone.now())
        .values("owner_id")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("owner_id", "n")
    )
    names = scope.owner_names
    in_scope = scope.owner_ids
    owners = {pk: ActivityLine(key=pk, label=name) for pk, name in names.items() if in_scope is None or pk in in_scope}
    weeks: dict[dt.date, ActivityLine] = {}
    rows = []
    for week_day, owner_id, calls, meetings, tasks_done in cells:
        week = weeks.get(week_day)
        if week is None:
            week = weeks[week_day] = ActivityLine(key=week_day, label=f"{week_day:%Y-%m-%d}")
        owner = owners.get(owner_id)
        if owner is None:
            owner = owners[owner_id] = ActivityLine(key=owner_id, label=names.get(owner_id, ""))
        for line in (week, owner):
            line.calls += calls
            line.meetings += meetings
            line.tasks_done += tasks_done
        if with_cells:
            rows.append(ActivityLine((week_day, owner_id), owner.label, calls, meetings, tasks_done))
    for owner_id, count in overdue.items():
        owners.setdefault(owner_id, ActivityLine(key=owner_id, label=names.get(owner_id, ""))).overdue = count
    leaderboard = sorted(owners.values(), key=lambda line: (-line.total, line.overdue, line.label))
    return ActivityReport(by_week=[weeks[key] for key in sorted(weeks)], leaderboard=leaderboard, cells=rows)


# Customer value ---------------------------------------------------------------------------


def value_run() -> ValueRun | None:
    return ValueRun.objects.filter(pk=1, computed_at__isnull=False).first()


def _values(scope: ReportScope):
    return CustomerValue.objects.filter(scope.owner_filter())


@dataclass
class SegmentLine:
    segment: str
    label: str
    customers: int = 0
    revenue: Decimal = ZERO  # won in the RFM window
    lifetime_value: Decimal = ZERO
    customer_share: float | None = None
    revenue_share: float | None = None
    advice: str = ""

    @property
    def at_risk(self) -> bool:
        return self.segment in AT_RISK_SEGMENTS


@dataclass
class SegmentReport:
    lines: list[SegmentLine]
    customers: int  # every customer in scope, scored or not
    scored: int
    revenue: Decimal


def segment_report(scope: ReportScope) -> SegmentReport:
    """Customers, window revenue and lifetime value per RFM segment: one GROUP BY."""
    cells = {
        row["segment"]: row
        for row in SegmentCell.objects.filter(scope.owner_filter())
        .values("segment")
        .annotate(customers=Sum("customers"), revenue=Sum("revenue"), ltv=Sum("lifetime_value"))
        .order_by()
    }
    labels = dict(ValueSegment.choices)
    scored = sum(row["customers"] for key, row in cells.items() if key)
    revenue = sum((row["revenue"] for key, row in cells.items() if key), ZERO)
    lines = []
    for segment in SEGMENT_ORDER:
        row = cells.get(segment, {})
        line = SegmentLine(
            segment=segment,
            label=str(labels[segment]),
            customers=row.get("customers", 0),
            revenue=row.get("revenue") or ZERO,
            lifetime_value=row.get("ltv") or ZERO,
            advice=SEGMENT_ADVICE[segment],
        )
        line.customer_share = percent(line.customers, scored)
        line.revenue_share = percent(line.revenue, revenue)
        lines.append(line)
    customers = sum(row["customers"] for row in cells.values())
    return SegmentReport(lines=lines, customers=customers, scored=scored, revenue=revenue)


def top_customers(scope: ReportScope, *, segment: str = ""):
    """Customers in scope, most valuable (lifetime value) first, with their company and owner."""
    qs = _values(scope).select_related("company", "owner").order_by("-lifetime_value", "company_id")
    if segment:
        qs = qs.filter(segment=segment)
    return qs


def dormant_customers(scope: ReportScope):
    """Dormant customers in scope, most valuable first."""
    return (
        _values(scope)
        .filter(is_dormant=True)
        .select_related("company", "owner")
        .order_by("-lifetime_value", "company_id")
    )


QUIET_BUCKETS = [(90, _("90–180 days")), (180, _("6–12 months")), (365, _("1–2 years")), (730, _("2 years +"))]


def dormant_buckets(scope: ReportScope) -> list[tuple[str, int, Decimal]]:
    """Dormant customers in scope by how long they had been quiet when computed: (label, customers, value)."""
    cells = {
        row["bucket"]: row
        for row in DormantCell.objects.filter(scope.owner_filter())
        .values("bucket")
        .annotate(customers=Sum("customers"), ltv=Sum("lifetime_value"))
        .order_by()
    }
    return [
        (str(label), cells.get(index, {}).get("customers", 0), cells.get(index, {}).get("ltv") or ZERO)
        for index, (_days, label) in enumerate(QUIET_BUCKETS)
    ]


def customers_in_scope(scope: ReportScope, *, segment: str | None = None) -> int:
    """How many customers the scope covers (of one segment), from the per-owner summary."""
    qs = SegmentCell.objects.filter(scope.owner_filter())
    if segment is not None:
        qs = qs.filter(segment=segment)
    return qs.aggregate(n=Sum("customers"))["n"] or 0


def first_suggestions(company_ids: list[int]) -> dict[int, CrossSellSuggestion]:
    rows = CrossSellSuggestion.objects.filter(company_id__in=company_ids, rank=1).select_related("product", "because")
    return {row.company_id: row for row in rows}


def latest_followups(company_ids: list[int]) -> dict[int, DormancyFollowUp]:
    rows = (
        DormancyFollowUp.objects.filter(company_id__in=company_ids)
        .select_related("activity")
        .order_by("company_id", "-dormant_since")
        .distinct("company_id")
    )
    return {row.company_id: row for row in rows}


COHORT_QUARTERS = 8


@dataclass
class CohortCellView:
    quarter: int
    customers: int = 0
    revenue: Decimal = ZERO
    share: float | None = None  # customers who bought again in the quarter ÷ cohort size
    revenue_retention: float | None = None  # revenue in the quarter ÷ first-month revenue
    elapsed: bool = True

    @property
    def heat(self) -> str:
        """Background opacity for the heat map: 0 at 0 %, 0.75 at 60 % or more."""
        return f"{min((self.share or 0) / 80, 0.75):.2f}"


@dataclass
class CohortRow:
    month: dt.date
    size: int
    first_revenue: Decimal
    cells: list[CohortCellView]


@dataclass
class CohortReport:
    rows: list[CohortRow]
    average_share: list[float | None]  # per quarter, customer-weighted over elapsed cells
    average_revenue_retention: list[float | None]


def cohort_report(scope: ReportScope, *, today: dt.date | None = None) -> CohortReport:
    this_month = (today or timezone.localdate()).replace(day=1)
    cells = (
        CohortCell.objects.filter(scope.owner_filter(), cohort_month__range=(scope.start, scope.end))
        .filter(quarter__lte=COHORT_QUARTERS)
        .values("cohort_month", "quarter")
        .annotate(customers=Sum("customers"), revenue=Sum("revenue"))
        .order_by()
    )
    grid: dict[dt.date, dict[int, dict]] = {}
    for cell in cells:
        grid.setdefault(cell["cohort_month"], {})[cell["quarter"]] = cell
    rows = []
    totals = [[0, 0, ZERO, ZERO] for _q in range(COHORT_QUARTERS + 1)]  # buyers, size, revenue, first revenue
    for month in sorted(grid):
        first = grid[month].get(0, {})
        size, first_revenue = first.get("customers", 0), first.get("revenue") or ZERO
        row_cells = []
        for quarter in range(1, COHORT_QUARTERS + 1):
            cell = grid[month].get(quarter, {})
            view = CohortCellView(
                quarter=quarter,
                customers=cell.get("customers", 0),
                revenue=cell.get("revenue") or ZERO,
                elapsed=add_months(month, 3 * quarter - 2) <= this_month,
            )
            if view.elapsed:
                view.share = percent(view.customers, size)
                view.revenue_retention = percent(view.revenue, first_revenue)
                total = totals[quarter]
                total[0] += view.customers
                total[1] += size
                total[2] += view.revenue
                total[3] += first_revenue
            row_cells.append(view)
        rows.append(CohortRow(month=month, size=size, first_revenue=first_revenue, cells=row_cells))
    return CohortReport(
        rows=rows,
        average_share=[percent(t[0], t[1]) for t in totals[1:]],
        average_revenue_retention=[percent(t[2], t[3]) for t in totals[1:]],
    )


@dataclass
class PairRule:
    antecedent: str
    consequent: str
    both: int
    support: float | None  # customers who bought both ÷ customers with any product, %
    confidence: float | None  # customers who bought both ÷ customers who bought the antecedent, %
    lift: float | None  # confidence ÷ share of customers who bought the consequent


@dataclass
class CrossSellReport:
    rules: list[PairRule]
    customers: int  # customers in scope with at least one product on a won deal


CROSS_SELL_RULES = 50


def cross_sell_report(scope: ReportScope, *, limit: int = CROSS_SELL_RULES) -> CrossSellReport:
    """Product pairs bought by the same customers in scope, as rules A → B, best lift first."""
    bought = dict(
        ProductCustomers.objects.filter(scope.owner_filter())
        .values("product_id")
        .annotate(n=Sum("customers"))
        .order_by()
        .values_list("product_id", "n")
    )
    customers = bought.pop(None, 0)
    pairs = list(
        ProductPair.objects.filter(scope.owner_filter())
        .values("product_a_id", "product_b_id")
        .annotate(n=Sum("customers"))
        .filter(n__gte=2)
        .order_by("-n")[:2000]
        .values_list("product_a_id", "product_b_id", "n")
    )
    names = dict(Product.objects.filter(pk__in=list(bought)).values_list("pk", "name"))
    rules = []
    for a, b, both in pairs:
        for antecedent, consequent in ((a, b), (b, a)):
            confidence = Decimal(both) / bought[antecedent] if bought.get(antecedent) else None
            base = Decimal(bought.get(consequent, 0)) / customers if customers else None
            rules.append(
                PairRule(
                    antecedent=names.get(antecedent, ""),
                    consequent=names.get(consequent, ""),
                    both=both,
                    support=percent(both, customers),
                    confidence=None if confidence is None else round(float(confidence) * 100, 1),
                    lift=round(float(confidence / base), 2) if confidence is not None and base else None,
                )
            )
    rules.sort(key=lambda rule: (-(rule.lift or 0), -(rule.confidence or 0), rule.antecedent, rule.consequent))
    return CrossSellReport(rules=rules[:limit], customers=customers)


# Service ------------------------------------------------------------------------------------

# Backlog age buckets: (label, youngest age in days, oldest age in days or None).
BACKLOG_BUCKETS = (
    (_("Today"), 0, 0),
    (_("1–2 days"), 1, 2),
    (_("3–7 days"), 3, 7),
    (_("8–30 days"), 8, 30),
    (_("Over 30 days"), 31, None),
)


def _hours(seconds: int, count: int) -> float | None:
    return round(seconds / count / 3600, 1) if count else None


@dataclass
class SlaLine:
    """Cases opened in a group (queue, priority or month) and how their SLA targets went."""

    key: object
    label: str
    cases: int = 0
    first_response_met: int = 0
    first_response_breached: int = 0
    resolution_met: int = 0
    resolution_breached: int = 0
    first_response_seconds: int = 0
    first_responses: int = 0
    resolution_seconds: int = 0
    resolutions: int = 0

    def add(self, cell: dict) -> None:
        for name in (
            "cases",
            "first_response_met",
            "first_response_breached",
            "resolution_met",
            "resolution_breached",
            "first_responses",
            "resolutions",
        ):
            setattr(self, name, getattr(self, name) + cell[name])
        self.first_response_seconds += cell["first_response_seconds"] or 0
        self.resolution_seconds += cell["resolution_seconds"] or 0

    @property
    def first_response_compliance(self) -> float | None:
        """Met ÷ (met + breached), in %: cases still within their time are not counted yet."""
        return percent(self.first_response_met, self.first_response_met + self.first_response_breached)

    @property
    def resolution_compliance(self) -> float | None:
        return percent(self.resolution_met, self.resolution_met + self.resolution_breached)

    @property
    def first_response_hours(self) -> float | None:
        return _hours(self.first_response_seconds, self.first_responses)

    @property
    def resolution_hours(self) -> float | None:
        return _hours(self.resolution_seconds, self.resolutions)

    @property
    def breached(self) -> int:
        return self.first_response_breached + self.resolution_breached


@dataclass
class BacklogLine:
    key: int | None
    label: str
    buckets: list[int] = field(default_factory=lambda: [0] * len(BACKLOG_BUCKETS))

    @property
    def total(self) -> int:
        return sum(self.buckets)


@dataclass
class CsatLine:
    key: object
    label: str
    ratings: int = 0
    score_total: int = 0
    low: int = 0

    @property
    def average(self) -> float | None:
        return round(self.score_total / self.ratings, 2) if self.ratings else None


@dataclass
class CsatRow:
    """One queue's satisfaction per month of the period, and over the period."""

    team: CsatLine
    months: list[CsatLine]


@dataclass
class ServiceReport:
    backlog: list[BacklogLine]
    backlog_total: BacklogLine
    by_team: list[SlaLine]
    by_priority: list[SlaLine]
    by_month: list[SlaLine]
    total: SlaLine
    csat: list[CsatRow]
    csat_by_month: list[CsatLine]
    csat_total: CsatLine


def service_report(scope: ServiceScope, generation_id: int | None, *, today: dt.date | None = None) -> ServiceReport:
    """Backlog (as of now), SLA outcomes and times (cases opened in the period) and
    satisfaction (scores given in the period) of the scope's queues: three reads of cells."""
    today = today or timezone.localdate()
    team_ids = scope.team_ids
    names = scope.team_names
    months = scope.months()
    end = add_months(scope.end, 1)

    # Backlog: the open cases per queue and age bucket, the age counted from the day opened.
    bucket = Case_(
        *(
            When(open_day__gte=today - dt.timedelta(days=oldest), then=Value(index))
            for index, (_label, _youngest, oldest) in enumerate(BACKLOG_BUCKETS)
            if oldest is not None
        ),
        default=Value(len(BACKLOG_BUCKETS) - 1),
    )
    backlog_rows = (
        BacklogCell.objects.filter(generation_id=generation_id, team_id__in=team_ids)
        .annotate(bucket=bucket)
        .values("team_id", "bucket")
        .annotate(cases=Sum("cases"))
        .order_by()
    )
    backlog = {pk: BacklogLine(key=pk, label=names.get(pk, "")) for pk in team_ids}
    total_backlog = BacklogLine(key=None, label=str(_("All queues")))
    for row in backlog_rows:
        backlog[row["team_id"]].buckets[row["bucket"]] += row["cases"]
        total_backlog.buckets[row["bucket"]] += row["cases"]

    # SLA outcomes and times of the cases opened in the period.
    by_team = {pk: SlaLine(key=pk, label=names.get(pk, "")) for pk in team_ids}
    by_priority = {value: SlaLine(key=value, label=str(label)) for value, label in CasePriority.choices}
    by_month = {month: SlaLine(key=month, label=f"{month:%Y-%m}") for month in months}
    total = SlaLine(key=None, label=str(_("All queues")))
    cells = CaseCell.objects.filter(
        generation_id=generation_id, team_id__in=team_ids, created_month__gte=scope.start, created_month__lt=end
    ).values(
        "team_id",
        "priority",
        "created_month",
        "cases",
        "first_response_met",
        "first_response_breached",
        "resolution_met",
        "resolution_breached",
        "first_response_seconds",
        "first_responses",
        "resolution_seconds",
        "resolutions",
    )
    for cell in cells:
        for line in (
            by_team[cell["team_id"]],
            by_priority.get(cell["priority"]),
            by_month.get(cell["created_month"]),
            total,
        ):
            if line is not None:
                line.add(cell)

    # Satisfaction per queue and month rated.
    csat = {
        pk: CsatRow(team=CsatLine(key=pk, label=names.get(pk, "")), months=[CsatLine(key=m, label="") for m in months])
        for pk in team_ids
    }
    csat_by_month = [CsatLine(key=month, label=f"{month:%Y-%m}") for month in months]
    csat_total = CsatLine(key=None, label=str(_("All queues")))
    month_index = {month: index for index, month in enumerate(months)}
    for cell in CsatCell.objects.filter(
        generation_id=generation_id, team_id__in=team_ids, csat_month__gte=scope.start, csat_month__lt=end
    ).values("team_id", "csat_month", "ratings", "score_total", "low"):
        index = month_index.get(cell["csat_month"])
        row = csat[cell["team_id"]]
        in_month = (row.months[index], csat_by_month[index]) if index is not None else ()
        for line in (row.team, *in_month, csat_total):
            if line is not None:
                line.ratings += cell["ratings"]
                line.score_total += cell["score_total"]
                line.low += cell["low"]
    return ServiceReport(
        backlog=list(backlog.values()),
        backlog_total=total_backlog,
        by_team=list(by_team.values()),
        by_priority=[line for line in by_priority.values() if line.cases],
        by_month=list(by_month.values()),
        total=total,
        csat=list(csat.values()),
        csat_by_month=csat_by_month,
        csat_total=csat_total,
    )


# Profitability ---------------------------------------------------------------------------

PROFIT_LIST_SIZE = 15


@dataclass
class ProfitTotals:
    customers: int = 0
    revenue: Decimal = ZERO
    gross_margin: Decimal = ZERO
    service_cost: Decimal = ZERO
    acquisition_cost: Decimal = ZERO
    profit: Decimal = ZERO
    unprofitable: int = 0
    unprofitable_loss: Decimal = ZERO  # what the unprofitable customers lose: −Σ their profit (≥ 0)


@dataclass
class ProfitabilityReport:
    period: str
    totals: ProfitTotals
    by_profit: list[CustomerProfit]
    by_revenue: list[CustomerProfit]
    unprofitable_large: list[CustomerProfit]
    profitable_small: list[CustomerProfit]
    # The whale curve: (share of customers %, cumulative profit as % of the total), most profitable first.
    curve: list[tuple[float, float]] = field(default_factory=list)
    peak_percent: float | None = None  # the top of the curve
    peak_customers_percent: float | None = None  # … reached with this share of the customers


def _profits(scope: ReportScope, period: str):
    return CustomerProfit.objects.filter(scope.owner_filter(), period=period)


def whale_curve(scope: ReportScope, period: str) -> list[tuple[int, Decimal]]:
    """(n, cumulative profit of the scope's n most profitable customers) at the end of each slice
    of the ranking (``ProfitBucket``): a few hundred rows per owner summed per slice, however
    many customers there are. Exact at every point, the peak included (slices split there)."""
    rows = (
        ProfitBucket.objects.filter(scope.owner_filter(), period=period)
        .values("bucket")
        .annotate(n=Sum("customers"), total=Sum("profit"))
        .order_by("bucket")
    )
    points, n, cumulative = [], 0, Decimal("0")
    for row in rows:
        n += row["n"]
        cumulative += row["total"]
        points.append((n, cumulative))
    return points


# The page's four lists: each one's rows and the order they are shown in (its index's order).
_PROFIT_LISTS: dict[str, tuple[Q, tuple[str, ...]]] = {
    "by_profit": (Q(), ("profit_rank",)),
    "by_revenue": (Q(), ("-revenue", "company_id")),
    "unprofitable_large": (Q(group=ProfitGroup.UNPROFITABLE_LARGE), ("-profit_rank",)),
    "profitable_small": (Q(group=ProfitGroup.PROFITABLE_SMALL), ("profit_rank",)),
}


def _profit_lists(rows, size: int) -> dict[str, list[CustomerProfit]]:
    """The first ``size`` rows of each of ``_PROFIT_LISTS``: their ids in one ``UNION ALL`` of
    the four indexed top-n queries, then the rows (with company and owner) in one more, instead
    of four queries with their joins."""
    parts = [
        rows.filter(condition).order_by(*order).annotate(list_key=Value(key)).values_list("pk", "list_key")[:size]
        for key, (condition, order) in _PROFIT_LISTS.items()
    ]
    picked = list(parts[0].union(*parts[1:], all=True))
    found = CustomerProfit.objects.select_related("company", "owner").in_bulk({pk for pk, _key in picked})
    lists: dict[str, list[CustomerProfit]] = {key: [] for key in _PROFIT_LISTS}
    for pk, key in picked:
        lists[key].append(found[pk])
    for key, (_condition, order) in _PROFIT_LISTS.items():
        for field_name in reversed(order):  # stable sorts, last key first
            name = field_name.lstrip("-")
            lists[key].sort(key=lambda row, name=name: getattr(row, name), reverse=field_name.startswith("-"))
    return lists


def profitability_report(scope: ReportScope, *, period: str, size: int = PROFIT_LIST_SIZE) -> ProfitabilityReport:
    """The Profitability page: totals and the whale curve from the per-owner rollups, the two
    rankings and the two action lists from the indexed rows (``size`` each)."""
    sums = ProfitCell.objects.filter(scope.owner_filter(), period=period).aggregate(
        customers=Sum("customers"),
        revenue=Sum("revenue"),
        gross_margin=Sum("gross_margin"),
        service_cost=Sum("service_cost"),
        acquisition_cost=Sum("acquisition_cost"),
        profit=Sum("profit"),
        unprofitable=Sum("unprofitable"),
        unprofitable_loss=Sum("unprofitable_loss"),
    )
    totals = ProfitTotals(**{key: value if value is not None else ZERO for key, value in sums.items()})
    totals.customers, totals.unprofitable = int(totals.customers), int(totals.unprofitable)
    lists = _profit_lists(_profits(scope, period), size)
    report = ProfitabilityReport(period=period, totals=totals, **lists)
    points = whale_curve(scope, period)
    if points and totals.profit and totals.customers:
        total = float(totals.profit)
        report.curve = [(100.0 * n / totals.customers, 100.0 * float(cum) / total) for n, cum in points]
        peak_n, peak_cum = max(points, key=lambda point: point[1])
        report.peak_percent = round(100.0 * float(peak_cum) / total, 1)
        report.peak_customers_percent = round(100.0 * peak_n / totals.customers, 1)
    return report


def customer_profits(scope: ReportScope, *, period: str):
    """Every customer in scope for the period, most profitable first (the export)."""
    return _profits(scope, period).order_by("profit_rank")


def company_profits(company_id: int) -> dict[str, CustomerProfit]:
    """The company card's profitability, by period."""
    return {row.period: row for row in CustomerProfit.objects.filter(company_id=company_id)}
