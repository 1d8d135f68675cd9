"""Writes of the reports app: building the rollups, forecast snapshots, subscriptions.

Rollup facts are derived per deal from its StageChange history by set-based SQL
(``_write_facts``: INSERT … SELECT over a range of deal ids), so the nightly full rebuild and
the incremental refresh after one stage change run the same code, and a rebuild of 300k deals
takes seconds rather than the minutes a per-deal Python loop did.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import Count, Exists, OuterRef, Q, Sum
from django.db.models.functions import TruncWeek
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from activities.models import Activity, ActivityType
from activities.services import activity_create
from contacts.models import Contact
from crm import request_memo
from crm.i18n import user_locale
from crm.models import Team, User
from deals.models import Deal, DealStatus
from deals.money import CENT
from reports import value
from reports.models import (
    ActivityWeek,
    BacklogCell,
    CaseCell,
    CaseFact,
    ClosedCell,
    CohortCell,
    CrossSellSuggestion,
    CsatCell,
    CustomerProfit,
    CustomerValue,
    Dashboard,
    DashboardItem,
    DashboardItemKind,
    DealFact,
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
    ReportSubscription,
    RollupGeneration,
    RollupPointer,
    SavedReport,
    SavedReportSubscription,
    SegmentCell,
    StageFact,
    StageTimeCell,
    StageVisit,
    ValueRun,
)
from reports.scope import add_months
from reports.selectors import rollup_status, team_summary
from service.models import ACTIVE_STATUSES, RUNNING_STATUSES, Case
from service.services import business_hours_for
from service.sla import BusinessHours

logger = logging.getLogger(__name__)


def month_of(value: dt.datetime | dt.date) -> dt.date:
    if isinstance(value, dt.datetime):
        value = timezone.localtime(value).date()
    return value.replace(day=1)


# The facts of the deals with ids in [low, high], derived set-based in SQL from the deals and
# their StageChange history (ordered by ``at``, then ``id``). One code path for the nightly
# rebuild (chunks of ids) and the refresh after one stage change (low = high = the deal).
#
# DealFact: amounts in the base currency at the rate of the close date (today for open deals):
# the latest ExchangeRate on or before that date, else the earliest one; no rate at all → 0
# and ``rate_missing``. Rounding is half away from zero to the cent, as ``RateBook.to_base``.
_DEAL_FACTS_SQL = """
INSERT INTO reports_dealfact (
    generation_id, deal_id, owner_id, pipeline_id, company_id, stage_id, custom, status, source, lost_reason_id,
    created_at, created_month, created_day, closed_at, closed_month, closed_day, expected_close_month, probability,
    amount_base, weighted_base, rate_missing, cycle_days
)
SELECT %(generation)s, d.id, d.owner_id, d.pipeline_id, d.company_id, d.stage_id, COALESCE(d.custom, '{}'::jsonb),
    d.status, d.source, d.lost_reason_id,
    d.created_at, date_trunc('month', d.created_at AT TIME ZONE %(tz)s)::date, (d.created_at AT TIME ZONE %(tz)s)::date,
    d.closed_at, date_trunc('month', d.closed_at AT TIME ZONE %(tz)s)::date, (d.closed_at AT TIME ZONE %(tz)s)::date,
    date_trunc('month', d.expected_close_date)::date,
    d.probability,
    COALESCE(round(d.amount * r.rate, 2), 0.00),
    COALESCE(round(round(d.amount * r.rate, 2) * d.probability / 100, 2), 0.00),
    r.rate IS NULL,
    CASE WHEN d.status = %(won)s AND d.closed_at IS NOT NULL
         THEN round(extract(epoch FROM d.closed_at - d.created_at) / 86400, 2) END
FROM deals_deal d
CROSS JOIN LATERAL (
    SELECT CASE WHEN d.currency = %(base)s THEN 1::numeric ELSE COALESCE(
        (SELECT e.rate FROM deals_exchangerate e
          WHERE e.currency = d.currency
            AND e.date <= COALESCE((d.closed_at AT TIME ZONE %(tz)s)::date, %(today)s)
          ORDER BY e.date DESC LIMIT 1),
        (SELECT e.rate FROM deals_exchangerate e WHERE e.currency = d.currency ORDER BY e.date LIMIT 1)
    ) END AS rate
) r
WHERE d.id BETWEEN %(low)s AND %(high)s
"""

# StageFact (funnel entries). The funnel of a pipeline is its stages but the lost ones, ranked
# by position. A move into a funnel stage of the deal's pipeline enters it; a forward move also
# enters every stage it skips; each stage counts once, at the first change that entered it.
# Moves into other stages (lost, another pipeline's) enter nothing and do not change the
# deal's funnel position, so they are left out before ``lag``. ``reached_later``: at or after
# the entering change the deal stood in a later funnel stage.
_STAGE_FACTS_SQL = """
WITH funnel AS (
    SELECT id AS stage_id, pipeline_id,
           row_number() OVER (PARTITION BY pipeline_id ORDER BY position, id) - 1 AS rank
    FROM deals_stage WHERE NOT is_lost
), moves AS (
    SELECT c.deal_id, c.id, c.at, f.pipeline_id, f.rank,
           lag(f.rank) OVER w AS previous,
           max(f.rank) OVER (w ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS highest_from_here
    FROM deals_stagechange c
    JOIN deals_deal d ON d.id = c.deal_id
    JOIN funnel f ON f.stage_id = c.to_stage_id AND f.pipeline_id = d.pipeline_id
    WHERE c.deal_id BETWEEN %(low)s AND %(high)s
    WINDOW w AS (PARTITION BY c.deal_id ORDER BY c.at, c.id)
), entries AS (
    SELECT DISTINCT ON (m.deal_id, entered.rank)
           m.deal_id, m.pipeline_id, entered.rank, m.at, m.highest_from_here > entered.rank AS reached_later
    FROM moves m
    CROSS JOIN LATERAL generate_series(
        CASE WHEN m.previous < m.rank THEN m.previous + 1 ELSE m.rank END, m.rank
    ) AS entered(rank)
    ORDER BY m.deal_id, entered.rank, m.at, m.id
)
INSERT INTO reports_stagefact (
    generation_id, deal_id, owner_id, pipeline_id, stage_id, entered_at, entered_month, reached_later, amount_base
)
SELECT %(generation)s, e.deal_id, fact.owner_id, e.pipeline_id, f.stage_id, e.at,
       date_trunc('month', e.at AT TIME ZONE %(tz)s)::date, e.reached_later, fact.amount_base
FROM entries e
JOIN funnel f ON f.pipeline_id = e.pipeline_id AND f.rank = e.rank
JOIN reports_dealfact fact ON fact.generation_id = %(generation)s AND fact.deal_id = e.deal_id
"""

# StageVisit: every stay that ended (a later change exists), in the stage's own pipeline;
# whole seconds, truncated.
_STAGE_VISITS_SQL = """
INSERT INTO reports_stagevisit (generation_id, deal_id, owner_id, pipeline_id, stage_id, left_at, left_month, seconds)
SELECT %(generation)s, v.deal_id, d.owner_id, s.pipeline_id, v.to_stage_id, v.left_at,
       date_trunc('month', v.left_at AT TIME ZONE %(tz)s)::date,
       trunc(extract(epoch FROM v.left_at - v.at))::bigint
FROM (
    SELECT c.deal_id, c.to_stage_id, c.at, lead(c.at) OVER (PARTITION BY c.deal_id ORDER BY c.at, c.id) AS left_at
    FROM deals_stagechange c
    WHERE c.deal_id BETWEEN %(low)s AND %(high)s
) v
JOIN deals_deal d ON d.id = v.deal_id
JOIN deals_stage s ON s.id = v.to_stage_id
WHERE v.left_at IS NOT NULL
"""


def _write_facts(generation_id: int, low: int, high: int) -> int:
    """Write the facts of the deals with ids in [low, high]; returns how many deals."""
    params = {
        "generation": generation_id,
        "low": low,
        "high": high,
        "tz": settings.TIME_ZONE,
        "today": timezone.localdate(),
        "base": settings.BASE_CURRENCY,
        "won": DealStatus.WON.value,
    }
    with connection.cursor() as cursor:
        cursor.execute(_DEAL_FACTS_SQL, params)
        count = cursor.rowcount
        cursor.execute(_STAGE_FACTS_SQL, params)
        cursor.execute(_STAGE_VISITS_SQL, params)
    return count


# Cells: the facts of a generation summed per report dimension (see ``reports.models``). Each
# spec names the cell table, the fact table, the key columns (the same name in both), the
# summed values and which facts count.
@dataclass(frozen=True)
class _CellSpec:
    model: type
    facts: type
    keys: tuple[str, ...]  # the same columns in the cell and the fact table
    values: tuple[tuple[str, str], ...]  # (cell column, aggregate over the facts)
    where: str  # SQL condition on the facts (alias f)
    nullable: frozenset[str] = frozenset()  # key columns that may be null
    # Rebuilds write the cells in the order of the index the pages read them by, so a page's
    # few thousand cells sit on a few hundred pages instead of one page each.
    order: tuple[str, ...] = ()
    # How rows of one key add up when a deal's contribution is added or taken away (default
    # ``sum(column)``); written so the result is what a GROUP BY over the facts gives.
    totals: tuple[tuple[str, str], ...] = ()
    # The fact column naming what one incremental refresh replaces (a deal, a case).
    subject: str = "deal_id"

    def __post_init__(self) -> None:
        if self.values[0][1] != "count(*)":
            raise ValueError("the first value counts the facts (an empty cell has none)")

    @property
    def table(self) -> str:
        return self.model._meta.db_table

    @property
    def fact_table(self) -> str:
        return self.facts._meta.db_table


_CLOSED = f"f.status IN ('{DealStatus.WON.value}', '{DealStatus.LOST.value}') AND f.closed_month IS NOT NULL"
CELL_SPECS = (
    _CellSpec(
        ClosedCell,
        DealFact,
        keys=(
            "owner_id",
            "pipeline_id",
            "closed_month",
            "status",
            "source",
        ),
        values=(
            ("deals", "count(*)"),
            ("amount_base", "sum(f.amount_base)"),
            ("cycle_days", "sum(f.cycle_days)"),
            ("cycle_deals", "count(f.cycle_days)"),
        ),
        where=_CLOSED,
        order=("closed_month", "owner_id"),
        # sum() over the facts is null when none of them has a cycle; a difference would be 0.
        totals=(("cycle_days", "CASE WHEN sum(cycle_deals) > 0 THEN sum(cycle_days) END"),),
    ),
    _CellSpec(
        LostReasonCell,
        DealFact,
        keys=(
            "owner_id",
            "pipeline_id",
            "closed_month",
            "lost_reason_id",
        ),
        values=(("deals", "count(*)"), ("amount_base", "sum(f.amount_base)")),
        where=f"f.status = '{DealStatus.LOST.value}' AND f.closed_month IS NOT NULL",
        nullable=frozenset({"lost_reason_id"}),
        order=("closed_month", "owner_id"),
    ),
    _CellSpec(
        OpenCell,
        DealFact,
        keys=("owner_id", "pipeline_id", "expected_close_month"),
        values=(
            ("deals", "count(*)"),
            ("weighted_base", "sum(f.weighted_base)"),
            ("amount_base", "sum(f.amount_base)"),
            ("rate_missing", "count(*) FILTER (WHERE f.rate_missing)"),
        ),
        where=f"f.status = '{DealStatus.OPEN.value}'",
        nullable=frozenset({"expected_close_month"}),
        order=("owner_id", "pipeline_id"),
    ),
    _CellSpec(
        FunnelCell,
        StageFact,
        keys=("owner_id", "pipeline_id", "stage_id", "entered_month"),
        values=(
            ("entered", "count(*)"),
            ("reached_later", "count(*) FILTER (WHERE f.reached_later)"),
            ("amount_base", "sum(f.amount_base)"),
        ),
        where="TRUE",
        order=("pipeline_id", "entered_month"),
    ),
    _CellSpec(
        StageTimeCell,
        StageVisit,
        keys=("owner_id", "pipeline_id", "stage_id", "left_month"),
        values=(("visits", "count(*)"), ("seconds", "sum(f.seconds)")),
        where="TRUE",
        order=("pipeline_id", "left_month"),
    ),
)
CELL_MODELS = tuple(spec.model for spec in CELL_SPECS)


def _insert_cells_sql(spec: _CellSpec) -> str:
    """Every cell of the generation: INSERT … SELECT … GROUP BY over its facts."""
    keys = list(spec.keys)
    values = [column for column, _aggregate in spec.values]
    return (
        f"INSERT INTO {spec.table} (generation_id, {', '.join(keys + values)}) "  # noqa: S608 (SQL names from model metadata and module constants; values are bound parameters)
        f"SELECT %(generation)s, {', '.join(f'f.{column}' for column in keys)}, "
        f"{', '.join(aggregate for _column, aggregate in spec.values)} "
        f"FROM {spec.fact_table} f "
        f"WHERE f.generation_id = %(generation)s AND {spec.where} "
        f"GROUP BY {', '.join(f'f.{column}' for column in keys)}"
        + (f" ORDER BY {', '.join(f'f.{column}' for column in spec.order)}" if spec.order else "")
    )


def _write_cells(generation_id: int) -> None:
    """Every cell of the generation from its facts, after the facts are written: one GROUP BY each."""
    with connection.cursor() as cursor:
        for spec in CELL_SPECS:
            cursor.execute(_insert_cells_sql(spec), {"generation": generation_id})


def _add_deal_to_cells(generation_id: int, deal_id: int, *, sign: int) -> None:
    """Add (sign 1) or take away (sign -1) the deal's current facts to/from the cells they
    count in. Per cell table one statement: the deal's contribution per key, the cells of
    those keys deleted and written again as their sum with it; a cell left without facts
    goes. Reads the deal's facts and those few cells, never the other facts."""
    params = {"generation": generation_id, "deal": deal_id, "sign": sign}
    with connection.cursor() as cursor:
        for spec in CELL_SPECS:
            cursor.execute(_add_deal_sql(spec), params)


def _add_deal_sql(spec: _CellSpec) -> str:
    keys = list(spec.keys)
    values = [column for column, _aggregate in spec.values]
    totals = dict(spec.totals)
    match = " AND ".join(
        f"c.{column} IS NOT DISTINCT FROM d.{column}" if column in spec.nullable else f"c.{column} = d.{column}"
        for column in keys
    )
    key_list, value_list = ", ".join(keys), ", ".join(values)
    return (
        f"WITH delta AS (SELECT {', '.join(f'f.{column}' for column in keys)}, "  # noqa: S608 (SQL names from model metadata and module constants; values are bound parameters)
        f"{', '.join(f'%(sign)s * {aggregate} AS {column}' for column, aggregate in spec.values)} "
        f"FROM {spec.fact_table} f "
        f"WHERE f.generation_id = %(generation)s AND f.{spec.subject} = %(deal)s AND {spec.where} "
        f"GROUP BY {', '.join(f'f.{column}' for column in keys)}), "
        f"gone AS (DELETE FROM {spec.table} c USING delta d WHERE c.generation_id = %(generation)s AND {match} "
        f"RETURNING {', '.join(f'c.{column}' for column in keys + values)}) "
        f"INSERT INTO {spec.table} (generation_id, {key_list}, {value_list}) "
        f"SELECT %(generation)s, {key_list}, "
        f"{', '.join(totals.get(column, f'sum({column})') for column in values)} "
        f"FROM (SELECT {key_list}, {value_list} FROM gone UNION ALL SELECT {key_list}, {value_list} FROM delta) x "
        f"GROUP BY {key_list} HAVING sum({values[0]}) > 0"
    )


def _deal_id_ranges(chunk_size: int) -> Iterator[tuple[int, int]]:
    """[low, high] id ranges of about ``chunk_size`` deals each, in id order."""
    ids = list(Deal.objects.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), chunk_size):
        chunk = ids[start : start + chunk_size]
        yield chunk[0], chunk[-1]


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


# Service cases ------------------------------------------------------------------------------
# Case facts are derived in Python rather than SQL: the times are business seconds of each
# queue's calendar (``service.sla.BusinessHours``: working days, hours, holidays, time zone),
# which SQL cannot reproduce without duplicating that code. A case's SLA outcome per target:
# met when answered (resolved) by its due time, breached when answered late or still
# unanswered past it, undecided (null) while it still has time or has no SLA target.

CASE_CELL_SPECS = (
    _CellSpec(
        CaseCell,
        CaseFact,
        keys=("team_id", "priority", "created_month"),
        values=(
            ("cases", "count(*)"),
            ("first_response_met", "count(*) FILTER (WHERE f.first_response_met)"),
            ("first_response_breached", "count(*) FILTER (WHERE NOT f.first_response_met)"),
            ("resolution_met", "count(*) FILTER (WHERE f.resolution_met)"),
            ("resolution_breached", "count(*) FILTER (WHERE NOT f.resolution_met)"),
            ("first_response_seconds", "sum(f.first_response_seconds)"),
            ("first_responses", "count(f.first_response_seconds)"),
            ("resolution_seconds", "sum(f.resolution_seconds)"),
            ("resolutions", "count(f.resolution_seconds)"),
        ),
        where="TRUE",
        order=("created_month", "team_id"),
        totals=(
            ("first_response_seconds", "CASE WHEN sum(first_responses) > 0 THEN sum(first_response_seconds) END"),
            ("resolution_seconds", "CASE WHEN sum(resolutions) > 0 THEN sum(resolution_seconds) END"),
        ),
        subject="case_id",
    ),
    _CellSpec(
        BacklogCell,
        CaseFact,
        keys=("team_id", "priority", "open_day"),
        values=(("cases", "count(*)"),),
        where="f.open_day IS NOT NULL",
        order=("team_id", "open_day"),
        subject="case_id",
    ),
    _CellSpec(
        CsatCell,
        CaseFact,
        keys=("team_id", "csat_month"),
        values=(
            ("ratings", "count(*)"),
            ("score_total", "sum(f.csat_score)"),
            ("low", "count(*) FILTER (WHERE f.csat_score <= 2)"),
        ),
        where="f.csat_score IS NOT NULL AND f.csat_month IS NOT NULL",
        order=("csat_month", "team_id"),
        subject="case_id",
    ),
)
CASE_MODELS = (CaseFact, *(spec.model for spec in CASE_CELL_SPECS))
CASE_FACT_FIELDS = (
    "id",
    "team_id",
    "priority",
    "status",
    "created_at",
    "first_response_due_at",
    "first_responded_at",
    "resolution_due_at",
    "resolved_at",
    "resolution_seconds_left",
    "csat_score",
    "csat_at",
)
CASE_FACT_BATCH = 5000


def _met(answered_at: dt.datetime | None, due_at: dt.datetime | None, *, overdue: bool) -> bool | None:
    if due_at is None:
        return None
    if answered_at is not None:
        return answered_at <= due_at
    return False if overdue else None


def case_fact_for(row: dict, *, hours: BusinessHours, now: dt.datetime) -> CaseFact:
    """The fact of one case (a ``values()`` row of ``CASE_FACT_FIELDS``) as of ``now``."""
    created = row["created_at"]
    first_due, responded = row["first_response_due_at"], row["first_responded_at"]
    resolution_due, resolved = row["resolution_due_at"], row["resolved_at"]
    running = row["status"] in RUNNING_STATUSES
    # Waiting on the customer stops the clock; a case that ran out before the pause stays late.
    resolution_overdue = (running and resolution_due is not None and now > resolution_due) or (
        not running and resolved is None and row["resolution_seconds_left"] == 0
    )
    csat_at = row["csat_at"]
    return CaseFact(
        case_id=row["id"],
        team_id=row["team_id"],
        priority=row["priority"],
        status=row["status"],
        created_month=month_of(created),
        open_day=timezone.localtime(created).date() if row["status"] in ACTIVE_STATUSES else None,
        first_response_met=_met(responded, first_due, overdue=first_due is not None and now > first_due),
        resolution_met=_met(resolved, resolution_due, overdue=resolution_overdue),
        first_response_seconds=int(hours.seconds_between(created, responded)) if responded else None,
        resolution_seconds=int(hours.seconds_between(created, resolved)) if resolved else None,
        csat_score=row["csat_score"] if csat_at is not None else None,
        csat_month=month_of(csat_at) if csat_at is not None and row["csat_score"] is not None else None,
    )


def _write_case_facts(generation_id: int, *, case_id: int | None = None) -> int:
    """Write the facts of every case (or of one); returns how many. Each queue's calendar is
    read once; rows are written in batches so memory stays flat on a few hundred thousand cases."""
    now = timezone.now()
    calendars: dict[int, BusinessHours] = {}
    cases = Case.objects.order_by("pk").values(*CASE_FACT_FIELDS)
    if case_id is not None:
        cases = cases.filter(pk=case_id)
    batch: list[CaseFact] = []
    count = 0
    for row in cases.iterator(chunk_size=CASE_FACT_BATCH):
        hours = calendars.get(row["team_id"])
        if hours is None:
            hours = calendars[row["team_id"]] = business_hours_for(row["team_id"])
        fact = case_fact_for(row, hours=hours, now=now)
        fact.generation_id = generation_id
        batch.append(fact)
        if len(batch) >= CASE_FACT_BATCH:
            CaseFact.objects.bulk_create(batch)
            count += len(batch)
            batch = []
    CaseFact.objects.bulk_create(batch)
    return count + len(batch)


def _write_case_cells(generation_id: int) -> None:
    with connection.cursor() as cursor:
        for spec in CASE_CELL_SPECS:
            cursor.execute(_insert_cells_sql(spec), {"generation": generation_id})


def _add_case_to_cells(generation_id: int, case_id: int, *, sign: int) -> None:
    """As ``_add_deal_to_cells``, for one case's fact."""
    params = {"generation": generation_id, "deal": case_id, "sign": sign}
    with connection.cursor() as cursor:
        for spec in CASE_CELL_SPECS:
            cursor.execute(_add_deal_sql(spec), params)


def rollups_refresh_for_case(*, case_id: int) -> bool:
    """Replace one case's fact (and its share of the cells) in the current generation.

    Returns False when there is no generation yet: the first full rebuild will include it."""
    with transaction.atomic():
        pointer = _locked_pointer()
        if pointer.generation_id is None:
            return False
        _add_case_to_cells(pointer.generation_id, case_id, sign=-1)
        CaseFact.objects.filter(generation_id=pointer.generation_id, case_id=case_id).delete()
        _write_case_facts(pointer.generation_id, case_id=case_id)
        _add_case_to_cells(pointer.generation_id, case_id, sign=1)
        pointer.refreshed_at = timezone.now()
        pointer.save(update_fields=["refreshed_at"])
    return True


def rollup_cells_forget_case(*, case_id: int) -> None:
    """Before a case is deleted (its fact goes with it): take it out of the cells."""
    with transaction.atomic():
        pointer = RollupPointer.objects.select_for_update().filter(pk=1).first()
        if pointer is not None and pointer.generation_id is not None:
            _add_case_to_cells(pointer.generation_id, case_id, sign=-1)


def _locked_pointer() -> RollupPointer:
    RollupPointer.objects.get_or_create(pk=1)
    return RollupPointer.objects.select_for_update().get(pk=1)


def rollups_rebuild(*, chunk_size: int = 50_000) -> RollupGeneration:
    """Rebuild every fact under a new generation and switch readers to it in one transaction.

    The pointer row stays locked until commit, so incremental refreshes wait for the rebuild
    instead of writing into a generation that is about to be replaced. If anything fails half
    way the transaction rolls back and readers keep the previous generation.
    """
    started = time.monotonic()
    with transaction.atomic():
        pointer = _locked_pointer()
        generation = RollupGeneration.objects.create()
        count = 0
        for low, high in _deal_id_ranges(chunk_size):
            count += _write_facts(generation.pk, low, high)
        _write_cells(generation.pk)
        cases = _write_case_facts(generation.pk)
        _write_case_cells(generation.pk)
        _write_activity_weeks(generation.pk)
        now = timezone.now()
        generation.finished_at = now
        generation.deal_count = count
        generation.seconds = round(time.monotonic() - started, 3)
        generation.save(update_fields=["finished_at", "deal_count", "seconds"])
        pointer.generation = generation
        pointer.refreshed_at = now
        pointer.save(update_fields=["generation", "refreshed_at"])
        for model in (DealFact, StageFact, StageVisit, ActivityWeek, *CELL_MODELS, *CASE_MODELS):
            model.objects.exclude(generation=generation).delete()
        # Fresh planner statistics for the new generation (ANALYZE samples the rows this
        # transaction wrote and skips the ones it deleted): with the old ones the planner
        # expects one row per generation and sorts report groups on disk.
        with connection.cursor() as cursor:
            for model in (DealFact, StageFact, StageVisit, ActivityWeek, *CELL_MODELS, *CASE_MODELS):
                cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
        # Keep a short history of rebuild times (Admin › Rollup generations), not every night's row.
        keep = RollupGeneration.objects.order_by("-started_at", "-id").values_list("id", flat=True)[:KEEP_GENERATIONS]
        RollupGeneration.objects.exclude(pk__in=list(keep)).delete()
    if not connection.in_atomic_block:
        # The previous generation's rows are dead now: reclaim them before the next report
        # reads the tables (VACUUM cannot run inside a transaction; a caller's own
        # transaction leaves it to autovacuum).
        with connection.cursor() as cursor:
            for model in (DealFact, StageFact, StageVisit, ActivityWeek, *CELL_MODELS, *CASE_MODELS):
                cursor.execute(f"VACUUM (ANALYZE) {connection.ops.quote_name(model._meta.db_table)}")
    logger.info("Rollups rebuilt: %s deals and %s cases in %.1fs", count, cases, generation.seconds)
    return generation


def rollups_refresh_for_deal(*, deal_id: int) -> bool:
    """Replace one deal's facts in the current generation (after a stage change or close).

    Returns False when there is no generation yet: the first full rebuild will include the deal.
    """
    with transaction.atomic():
        pointer = _locked_pointer()
        if pointer.generation_id is None:
            return False
        # The cells lose the deal's old facts and gain its new ones.
        _add_deal_to_cells(pointer.generation_id, deal_id, sign=-1)
        for model in (DealFact, StageFact, StageVisit):
            model.objects.filter(generation_id=pointer.generation_id, deal_id=deal_id).delete()
        _write_facts(pointer.generation_id, deal_id, deal_id)
        _add_deal_to_cells(pointer.generation_id, deal_id, sign=1)
        pointer.refreshed_at = timezone.now()
        pointer.save(update_fields=["refreshed_at"])
    return True


def rollup_cells_forget_deal(*, deal_id: int) -> None:
    """Before a deal is deleted (its facts go with it): take its facts out of the cells."""
    with transaction.atomic():
        pointer = RollupPointer.objects.select_for_update().filter(pk=1).first()
        if pointer is not None and pointer.generation_id is not None:
            _add_deal_to_cells(pointer.generation_id, deal_id, sign=-1)


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
        with user_locale(subscription.user):
            subject = render_to_string("reports/email/weekly_subject.txt", context).strip()
            message = render_to_string("reports/email/weekly_body.txt", context)
        send_mail(subject=subject, message=message, from_email=None, recipient_list=[subscription.user.email])
        subscription.last_sent_week = week
        subscription.save(update_fields=["last_sent_week"])
    return True


# Customer value ------------------------------------------------------------------------

CROSS_SELL_MIN_CUSTOMERS = 2
VALUE_TABLES = (
    ProfitBucket,
    ProfitCell,
    CustomerProfit,
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


def _value_params(now: dt.datetime) -> dict:
    today = timezone.localdate(now)
    return {
        "tz": timezone.get_current_timezone_name(),
        "now": now,
        "today": today,
        "year_start": today.replace(month=1, day=1),
        "year_ago": today - dt.timedelta(days=365),
        "two_years_ago": today - dt.timedelta(days=730),
        "window_start": add_months(today, -settings.RFM_WINDOW_MONTHS),
        "dormant_before": now - dt.timedelta(days=settings.DORMANT_DAYS),
        "min_customers": CROSS_SELL_MIN_CUSTOMERS,
        "csat_since": now - dt.timedelta(days=settings.SERVICE_CSAT_DAYS),
        "low_csat": settings.SERVICE_LOW_CSAT,
        "base": settings.BASE_CURRENCY,
        "large_share": value.LARGE_SHARE,
        "small_share": value.SMALL_SHARE,
        "growth_min_percent": value.GROWTH_MIN_PROFIT_PERCENT,
        "slices": value.WHALE_SLICES,
    }


def _snapshot_costs(cursor, params: dict, *, now: dt.datetime, companies: list[int] | None) -> None:
    """Cost of sales onto ``value_deals``; cost to serve and acquisition cost into their temp
    tables (for ``companies`` only when given): what ``INSERT_CUSTOMER_PROFIT`` reads."""
    cursor.execute(value.COST_OF_SALES, params)
    if companies is None:
        cursor.execute(value.SNAPSHOT_ACTIVITY, params)
        cursor.execute(value.SERVICE_ALL, params)
    else:
        cursor.execute(value.SERVICE_OF_COMPANIES, params)
    for statement, statement_params in value.cost_source_statements(
        tz=params["tz"], base=settings.BASE_CURRENCY, now=now, year_ago=params["year_ago"], companies=companies
    ):
        cursor.execute(statement, statement_params)
    cursor.execute("ANALYZE value_service")
    cursor.execute(value.SNAPSHOT_ACQUISITION)
    with request_memo.scope():  # the sources read what they need once for both periods
        for period, start in (("12m", params["year_ago"]), ("all", None)):
            costs = value.acquisition_costs(start=start, end=params["today"], company_ids=companies)
            if costs:
                ids = list(costs)
                cursor.execute(
                    value.INSERT_ACQUISITION, {"ids": ids, "costs": [costs[pk] for pk in ids], "period": period}
                )


def customer_value_refresh_companies(*, company_ids: list[int], now: dt.datetime | None = None) -> int:
    """The value rows of a few customers again, now (after another system reported revenue
    or a refund for them): revenue, purchases, average, LTV (at the last run's lifespan),
    quarters, dormancy. Their RFM scores and segment stay as the last full run ranked them,
    and the segment, cohort and cross-sell tables wait for the next full run (nightly).
    Idempotent; does nothing before the first full run. Returns the rows written."""
    now = now or timezone.now()
    company_ids = sorted({int(pk) for pk in company_ids})
    if not company_ids:
        return 0
    with transaction.atomic():
        run = _locked_value_run()  # waits for a full run in progress, then works on its rows
        if run.computed_at is None:
            return 0
        params = {**_value_params(now), "companies": company_ids, "lifespan": run.lifespan_years}
        kept = {
            row["company_id"]: row
            for row in CustomerValue.objects.filter(company_id__in=company_ids).values(
                "company_id", "owner_id", "r_score", "f_score", "m_score", "segment"
            )
        }
        kept_ranks = {
            (row["company_id"], row["period"]): row
            for row in CustomerProfit.objects.filter(company_id__in=company_ids).values(
                "company_id", "period", "profit_rank", "group"
            )
        }
        with connection.cursor() as cursor:
            cursor.execute(value.SNAPSHOT_COMPANY_DEALS, params)
            for statement, statement_params in value.revenue_source_statements(
                tz=params["tz"], base=settings.BASE_CURRENCY, now=now, companies=company_ids
            ):
                cursor.execute(statement, statement_params)
            cursor.execute(value.INDEX_DEALS)
            _snapshot_costs(cursor, params, now=now, companies=company_ids)
            CustomerProfit.objects.filter(company_id__in=company_ids).delete()
            CustomerValue.objects.filter(company_id__in=company_ids).delete()
            cursor.execute(
                value.customer_value_sql(value.INSERT_COMPANY_VALUES, monetary=settings.RFM_MONETARY), params
            )
            cursor.execute(value.INSERT_COMPANY_PROFITS, params)
        # Rank and group compare a customer with all the others: the last full run's stay.
        for profit in CustomerProfit.objects.filter(company_id__in=company_ids).select_for_update():
            previous = kept_ranks.get((profit.company_id, profit.period))
            profit.profit_rank = previous["profit_rank"] if previous else profit.profit_rank
            profit.group = previous["group"] if previous else ""
            profit.save(update_fields=["profit_rank", "group"])
        written = 0
        moved_owners: set[int] = set()
        for row in CustomerValue.objects.filter(company_id__in=company_ids).select_for_update():
            previous = kept.get(row.company_id, {})
            row.r_score, row.f_score, row.m_score = (previous.get(k) for k in ("r_score", "f_score", "m_score"))
            # The scores rank the customer among all (kept from the full run); service trouble
            # is the customer's own, so the segment follows it at once (an SLA breach today
            # puts a champion on the "At risk" list today, not tomorrow).
            if row.r_score is None:
                row.segment = ""
            else:
                row.segment = value.segment_for(row.r_score, row.f_score, row.m_score, service_trouble=row.service_risk)
            if row.segment != previous.get("segment", ""):
                moved_owners.add(row.owner_id)
                if previous.get("owner_id") is not None:
                    moved_owners.add(previous["owner_id"])
            row.save(update_fields=["r_score", "f_score", "m_score", "segment"])
            written += 1
        with connection.cursor() as cursor:
            cursor.execute(value.UPDATE_SEGMENTS_OF_COMPANIES, params)
            if moved_owners:
                # The segment counts of these owners from their rows (a few hundred each).
                cursor.execute(value.REWRITE_SEGMENT_CELLS_OF_OWNERS, {"owners": sorted(moved_owners)})
    return written


def customer_value_refresh_for_deal(*, deal_id: int) -> int:
    """Refresh the customer of a deal that was won, or left the won stage (after its facts)."""
    company_id = Deal.objects.filter(pk=deal_id, company__isnull=False).values_list("company_id", flat=True).first()
    if company_id is None:
        return 0
    return customer_value_refresh_companies(company_ids=[company_id])


def customer_value_recompute(*, now: dt.datetime | None = None) -> ValueRun:
    """Rebuild every customer-value table from the current rollup generation, atomically.

    One transaction: the previous rows are deleted and the new ones inserted with set-based
    INSERT … SELECT; under PostgreSQL's MVCC readers keep seeing the previous rows until the
    commit, and a run that fails rolls back leaving them. The lock on the ``ValueRun`` row
    makes a second run wait instead of interleaving. Builds the rollups first if none exist.
    """
    started = time.monotonic()
    now = now or timezone.now()
    if rollup_status().generation_id is None:
        rollups_rebuild()
    with transaction.atomic():
        run = _locked_value_run()
        params = _value_params(now)
        with connection.cursor() as cursor:
            cursor.execute(value.SNAPSHOT_DEALS, params)
            for statement, statement_params in value.revenue_source_statements(
                tz=params["tz"], base=settings.BASE_CURRENCY, now=now
            ):
                cursor.execute(statement, statement_params)
            cursor.execute(value.INDEX_DEALS)
            _snapshot_costs(cursor, params, now=now, companies=None)
            cursor.execute(value.CHURN, params)
            earlier, churned = cursor.fetchone()
            churn, lifespan = lifespan_from_churn(earlier=earlier, churned=churned)
            params["lifespan"] = lifespan
            for model in VALUE_TABLES:
                model.objects.all().delete()
            for statement in (
                value.customer_value_sql(value.INSERT_CUSTOMER_VALUE, monetary=settings.RFM_MONETARY),
                value.INSERT_ALL_PROFITS,
                value.INSERT_PROFIT_CELLS,
                value.INSERT_PROFIT_BUCKETS,
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
            # The task is the owner's: written in their language, once, as stored text.
            with user_locale(company.owner):
                subject = ngettext(
                    "Follow up with %(company)s: quiet for %(days)s day",
                    "Follow up with %(company)s: quiet for %(days)s days",
                    days,
                ) % {"company": company, "days": days}
                body = _(
                    "No activity and no purchase since %(since)s, and no open deal. "
                    "Last purchase: %(last)s. Lifetime value: %(ltv)s %(currency)s."
                ) % {
                    "since": f"{timezone.localtime(row.last_touch_at):%Y-%m-%d}",
                    "last": f"{row.last_won_on:%Y-%m-%d}" if row.last_won_on else "–",
                    "ltv": f"{row.lifetime_value:,.0f}",
                    "currency": settings.BASE_CURRENCY,
                }
            follow_up.activity = activity_create(
                actor=company.owner,
                owner=company.owner,
                type=task_type,
                subject=subject,
                body=body,
                company=company,
                due_at=now + dt.timedelta(days=1),
            )
            follow_up.save(update_fields=["activity"])
            created += 1
    return created


# Report builder: saved reports, dashboards, subscriptions ---------------------------------


def saved_report_create(*, owner: User, name: str, spec: dict, team: Team | None) -> SavedReport:
    """Save a builder report (``spec`` from ``ReportSpec.to_json``: whitelisted keys only)."""
    return SavedReport.objects.create(owner=owner, name=name, spec=spec, team=team)


def saved_report_update(*, report: SavedReport, name: str, spec: dict, team: Team | None) -> SavedReport:
    report.name, report.spec, report.team = name, spec, team
    report.save(update_fields=["name", "spec", "team", "updated_at"])
    return report


def saved_report_delete(*, report: SavedReport) -> None:
    report.delete()


def dashboard_create(*, name: str, user: User | None = None, team: Team | None = None) -> Dashboard:
    return Dashboard.objects.create(name=name, user=user, team=team)


def dashboard_pin(*, dashboard: Dashboard, report: SavedReport, actor: User) -> DashboardItem:
    """Pin ``report`` to ``dashboard``. A report pinned to a team dashboard is shared with that
    team (otherwise its members would see a card they may not open)."""
    with transaction.atomic():
        if dashboard.team_id and report.team_id != dashboard.team_id:
            report.team_id = dashboard.team_id
            report.save(update_fields=["team", "updated_at"])
        last = dashboard.items.order_by("-position").values_list("position", flat=True).first()
        item, _created = DashboardItem.objects.get_or_create(
            dashboard=dashboard,
            report=report,
            defaults={"kind": DashboardItemKind.REPORT, "position": (last or 0) + 1, "added_by": actor},
        )
    return item


def dashboard_unpin(*, item: DashboardItem) -> None:
    item.delete()


def dashboard_set_team_default(*, dashboard: Dashboard) -> Dashboard:
    """Make ``dashboard`` its team's default (the previous default stops being one)."""
    with transaction.atomic():
        Dashboard.objects.filter(team_id=dashboard.team_id, is_team_default=True).exclude(pk=dashboard.pk).update(
            is_team_default=False
        )
        dashboard.is_team_default = True
        dashboard.save(update_fields=["is_team_default"])
    return dashboard


def saved_report_subscription_toggle(*, user: User, report: SavedReport) -> bool:
    deleted, _ = SavedReportSubscription.objects.filter(user=user, report=report).delete()
    if deleted:
        return False
    SavedReportSubscription.objects.get_or_create(user=user, report=report)
    return True


def saved_report_subscription_send(*, subscription_id: int, today: dt.date | None = None) -> bool:
    """Email one saved report, run with the recipient's scope and in their language, once per
    ISO week; True when sent. A recipient who lost access to the report gets nothing."""
    from reports import builder
    from reports.dashboards import saved_reports_visible_to

    week = iso_week(today or timezone.localdate())
    with transaction.atomic():
        subscription = (
            SavedReportSubscription.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("user", "report")
            .filter(pk=subscription_id)
            .exclude(last_sent_week=week)
            .first()
        )
        if subscription is None or not subscription.user.email or not subscription.user.is_active:
            return False
        user, report = subscription.user, subscription.report
        if not saved_reports_visible_to(user).filter(pk=report.pk).exists():
            return False
        with user_locale(user):
            spec = builder.spec_from_json(report.spec)
            scope = builder.scope_for(user, spec.params())
            result = builder.run_report(spec, scope)
            context = {"report": report, "result": result, "week": week, "site_url": settings.SITE_URL}
            context["base_currency"] = settings.BASE_CURRENCY
            subject = render_to_string("reports/email/saved_report_subject.txt", context).strip()
            message = render_to_string("reports/email/saved_report_body.txt", context)
        send_mail(subject=subject, message=message, from_email=None, recipient_list=[user.email])
        subscription.last_sent_week = week
        subscription.save(update_fields=["last_sent_week"])
    return True
