"""Reads for deal pages: access, list filters, board columns, money totals in the base currency."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import Count, DateField, F, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import TruncMonth
from django.http import Http404, HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

import contacts.lookups  # noqa: F401 - registers trgm_icontains
from contacts.keyset import unindexed
from contacts.models import Contact
from contacts.selectors import text_contains_q
from crm import custom_fields
from crm.compiled import CompiledQuery, OwnerAccess, owner_ids_of
from crm.orm import instances, json_rows
from crm.params import MAX_DATE, MIN_DATE, id_or_none
from crm.rows import ListRow, list_rows
from crm.search import SearchHit, SearchSection
from deals.models import (
    ClosedDealTotal,
    Deal,
    DealStatus,
    DealTotal,
    ExchangeRate,
    LineItem,
    Pipeline,
    Product,
    Stage,
    StageChange,
)
from deals.money import CENT, MissingRate, RateBook, to_base

if TYPE_CHECKING:
    from collections.abc import Iterable

    from crm.models import User

BOARD_PAGE_SIZE = 20
STAGE_MEDIAN_CACHE_SECONDS = 60 * 60


def deals_for_user(user: User | OwnerAccess) -> QuerySet[Deal]:
    return Deal.objects.visible_to(user).select_related("owner", "company", "pipeline", "stage", "lost_reason")


# What a deal list row prints (deals/jinja2/deals/deal_list_rows.html): the deal's own
# columns, then the names of its company and owner (``deal_rows.deal_list_rows`` adds its
# stage's and pipeline's from the filter form's lists).
LIST_ROW_FIELDS = (
    *("id", "title", "company_id", "owner_id", "pipeline_id", "stage_id", "amount", "amount_from_line_items"),
    *("currency", "probability", "probability_is_manual", "expected_close_date", "status", "version", "created_at"),
    *("company__name", "owner__first_name", "owner__last_name", "owner__username"),
)


def deal_for_user(
    user: User, pk: int, *, write: bool = False, rate_on: dt.date | None = None, for_page: bool = False
) -> Deal:
    """The deal if ``user`` may see it (``Http404`` otherwise); with ``write``, only if they may change it.

    With ``rate_on``, the deal comes with ``rate_on_day``: its currency's exchange rate on that
    date (the latest on or before it), read in the same query (see ``deal_amount_in_base``).
    With ``for_page``, also its line items and contacts for its page (``deal_line_items``,
    ``deal_contacts``).
    """
    if for_page and rate_on is not None:
        found = _DEAL_PAGE.fetch(user.is_admin, pk=pk, owners=owner_ids_of(user), rate_on=rate_on)
        deal = found[0] if found else None
    else:
        qs = _deal_extras(deals_for_user(user), rate_on=rate_on, for_page=for_page)
        deal = qs.filter(pk=pk).first()
    if deal is None:
        raise Http404
    if write and not user.can_edit_owner(deal.owner_id):
        raise PermissionDenied
    return deal


def _deal_extras(qs: QuerySet[Deal], *, rate_on: dt.date | None, for_page: bool) -> QuerySet[Deal]:
    if rate_on is not None:
        rate = ExchangeRate.objects.filter(currency=OuterRef("currency"), date__lte=rate_on).order_by("-date")
        qs = qs.annotate(rate_on_day=Subquery(rate.values("rate")[:1]))
    if for_page:
        qs = qs.annotate(
            line_item_rows=json_rows(
                LineItem.objects.filter(deal_id=OuterRef("pk")).order_by("position", "id"),
                extra={"product_name": "product__name", "product_sku": "product__sku"},
            ),
            contact_rows=json_rows(
                Contact.objects.filter(deals=OuterRef("pk")).order_by(*Contact._meta.ordering),
                fields=DEAL_PAGE_CONTACT_FIELDS,
            ),
        )
    return qs


def _deal_page(is_admin: bool, *, pk: int, owners: list[int], rate_on: dt.date) -> QuerySet[Deal]:
    viewer = OwnerAccess(is_admin=is_admin, visible_owner_ids=owners)
    return _deal_extras(deals_for_user(viewer), rate_on=rate_on, for_page=True).filter(pk=pk).order_by()[:1]


# The deal page's deal (five joins, the day's rate, line items and contacts as JSON), compiled
# once per process (crm/compiled.py): the ORM took longer to build it than PostgreSQL to run it.
_DEAL_PAGE = CompiledQuery(_deal_page, pk=int, owners=list, rate_on=dt.date)


# What the deal page prints of each of its contacts.
DEAL_PAGE_CONTACT_FIELDS = ("id", "first_name", "last_name", "title", "email", "company_id")


def deal_line_items(deal: Deal) -> list[LineItem]:
    """The deal's line items with their product's name and SKU: from ``line_item_rows`` when
    ``deal_for_user(for_page=True)`` loaded them."""
    rows = getattr(deal, "line_item_rows", None)
    if rows is None:
        return list(LineItem.objects.filter(deal=deal).select_related("product"))
    items = instances(LineItem, rows)
    for item, row in zip(items, rows, strict=True):
        item.product = Product(pk=item.product_id, name=row["product_name"], sku=row["product_sku"] or "")
        item.deal = deal
    return items


def deal_contacts(deal: Deal) -> list[Contact]:
    """The deal's contacts for its page: from ``contact_rows`` when loaded with the deal."""
    rows = getattr(deal, "contact_rows", None)
    if rows is None:
        return list(deal.contacts.only(*DEAL_PAGE_CONTACT_FIELDS))
    return instances(Contact, rows)


def deal_amount_in_base(deal: Deal, on: dt.date) -> Decimal | None:
    """The deal's amount in the base currency at the rate of ``on``, as ``money.to_base``
    computes it; uses ``rate_on_day`` when ``deal_for_user(rate_on=on)`` loaded it. None when
    no rate exists for the currency."""
    rate = getattr(deal, "rate_on_day", None)
    if deal.currency != settings.BASE_CURRENCY and rate is not None:
        return (deal.amount * rate).quantize(CENT, rounding=ROUND_HALF_UP)
    try:
        return to_base(deal.amount, deal.currency, on)
    except LookupError:
        return None


@dataclass(frozen=True)
class DealMargin:
    """Revenue, cost and gross margin of a deal, in its currency and in the base currency."""

    revenue: Decimal
    cost: Decimal
    margin: Decimal
    percent: Decimal | None
    estimated: bool  # no known cost: the pipeline's default margin
    revenue_base: Decimal | None = None  # None: no exchange rate for the deal's currency
    cost_base: Decimal | None = None
    margin_base: Decimal | None = None


def deal_margin(deal: Deal, line_items: list[LineItem]) -> DealMargin:
    """The deal's gross margin as the customer-value job computes it (docs/customer-value.md):
    cost = Σ quantity × unit cost at sale when every line item has one, else the amount ×
    (100 − the pipeline's default margin %) ÷ 100. Base currency at the close date's rate for a
    won deal (as its revenue is reported), today's otherwise."""
    known = bool(line_items) and all(item.unit_cost is not None for item in line_items)
    if known:
        cost = sum((item.total_cost for item in line_items), Decimal("0"))
    else:
        cost = (deal.amount * (100 - deal.pipeline.default_margin_percent) / 100).quantize(CENT, ROUND_HALF_UP)
    margin = deal.amount - cost
    percent = (margin * 100 / deal.amount).quantize(Decimal("0.1"), ROUND_HALF_UP) if deal.amount else None
    on = timezone.localdate(deal.closed_at) if deal.closed_at else timezone.localdate()
    today_rate = getattr(deal, "rate_on_day", None)  # today's, read with the deal (deal_for_user)
    try:
        if deal.currency == settings.BASE_CURRENCY:
            rate = Decimal("1")
        elif today_rate is not None and on == timezone.localdate():
            rate = today_rate
        else:
            rate = RateBook().rate(deal.currency, on)  # a won deal: its close date's rate (one query)
    except MissingRate:
        return DealMargin(deal.amount, cost, margin, percent, not known)
    revenue_base = (deal.amount * rate).quantize(CENT, ROUND_HALF_UP)
    if known:
        cost_base = (cost * rate).quantize(CENT, ROUND_HALF_UP)
    else:
        cost_base = (revenue_base * (100 - deal.pipeline.default_margin_percent) / 100).quantize(CENT, ROUND_HALF_UP)
    return DealMargin(deal.amount, cost, margin, percent, not known, revenue_base, cost_base, revenue_base - cost_base)


def default_pipeline() -> Pipeline | None:
    return Pipeline.objects.order_by("-is_default", "position", "name").first()


# --- Money ---------------------------------------------------------------------------------


@dataclass
class MoneyTotal:
    """A sum in the base currency, built from per-currency subtotals converted one by one."""

    amount: Decimal = Decimal("0")
    weighted: Decimal = Decimal("0")
    count: int = 0
    by_currency: dict[str, Decimal] = field(default_factory=dict)
    missing_rates: set[str] = field(default_factory=set)


def _rate_date(month: dt.date | dt.datetime | None) -> dt.date:
    if month is None:
        return timezone.localdate()
    return month.date() if isinstance(month, dt.datetime) else month


def _fold(rows, group_by: str | None, book: RateBook) -> dict[object, MoneyTotal]:
    """Per (currency, rate month[, group]) sums → base-currency totals, converted one by one."""
    today = timezone.localdate()
    totals: dict[object, MoneyTotal] = {}
    for row in rows:
        key = row[group_by] if group_by else None
        total = totals.setdefault(key, MoneyTotal())
        total.count += row["n"]
        currency = row["currency"]
        on = _rate_date(row["rate_month"]) if row["rate_month"] else today
        amount = row["amount_total"] or Decimal("0")
        weighted = (row["weighted_total"] or Decimal("0")) / Decimal("100")
        total.by_currency[currency] = total.by_currency.get(currency, Decimal("0")) + amount
        try:
            total.amount += book.to_base(amount, currency, on)
            total.weighted += book.to_base(weighted, currency, on)
        except LookupError:
            total.missing_rates.add(currency)
    for total in totals.values():
        # The per-currency lines in a fixed order (the SQL groups come in hash order).
        total.by_currency = dict(sorted(total.by_currency.items()))
    return totals


def money_totals(
    qs: QuerySet[Deal], *, group_by: str | None = None, book: RateBook | None = None
) -> dict[object, MoneyTotal]:
    """Totals of ``qs`` in the base currency, one query, summing its rows.

    SQL sums per currency (and per month of the rate date: the close date of closed deals,
    today's rate for open ones); each subtotal is converted in Python, so two currencies are
    never added before conversion. With ``group_by`` (e.g. "stage_id") the result is keyed by it.
    For filters over the ``DealTotal`` dimensions only, ``stored_money_totals`` gives the same
    figures without reading the deals.
    """
    return _fold(money_total_rows(qs, group_by=group_by), group_by, book or RateBook())


def money_total_rows(qs: QuerySet[Deal], *, group_by: str | None = None) -> QuerySet[Deal]:
    """The per (currency, rate month[, ``group_by``]) sums of ``qs`` that ``money_totals``
    converts: a ``values()`` queryset, for a caller that compiles it (``crm.compiled``)."""
    keys = ["currency", "rate_month"] + ([group_by] if group_by else [])
    return (
        qs.order_by()
        .annotate(rate_month=TruncMonth("closed_at"))
        .values(*keys)
        .annotate(
            amount_total=Sum("amount"),
            weighted_total=Sum(F("amount") * F("probability")),
            n=Count("id"),
        )
    )


def money_total_from_rows(rows: Iterable[dict[str, Any]], *, book: RateBook | None = None) -> MoneyTotal:
    """``money_total`` of the rows of ``money_total_rows`` (fetched by the caller)."""
    return _fold(rows, None, book or RateBook()).get(None, MoneyTotal())


def stored_money_totals(
    user: User, where: Q, *, group_by: str | None = None, book: RateBook | None = None
) -> dict[object, MoneyTotal]:
    """``money_totals(Deal.objects.visible_to(user).filter(where), ...)``, read from the
    ``DealTotal`` groups the triggers keep (a few hundred rows instead of up to every deal).

    ``where`` may only use the aggregate's dimensions — owner (and ``owner__in`` a team's
    members), pipeline, stage, status — and ``group_by`` one of their columns. Same query
    shape and same exact sums per (currency, rate month), so the same figures to the cent.
    """
    if where or group_by:
        rows = _stored_total_rows(user, where, group_by)
    elif user.is_admin:
        # Every deal: the open ones' groups and every owner's closed ones together, each
        # (currency, rate month) summed once as the deals' own GROUP BY would.
        rows = _merged(_ADMIN_STORED_TOTALS.fetch())
    else:
        # No filter at all (most visits of the deal list): compiled once per role (crm.compiled).
        rows = _ALL_STORED_TOTALS.fetch(user.is_admin, owners=owner_ids_of(user))
    return _fold(rows, group_by, book or RateBook())


def _merged(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` of ``money_total_rows`` with those of the same (currency, rate month) added up."""
    merged: dict[tuple, dict[str, Any]] = {}
    for row in rows:
        same = merged.get((row["currency"], row["rate_month"]))
        if same is None:
            merged[(row["currency"], row["rate_month"])] = dict(row)
        else:
            for name in ("amount_total", "weighted_total", "n"):
                same[name] = (same[name] or 0) + (row[name] or 0)
    return list(merged.values())


def _stored_total_rows(user: Any, where: Q, group_by: str | None) -> QuerySet[DealTotal]:
    keys = ["currency", "rate_month"] + ([group_by] if group_by else [])
    return (
        DealTotal.objects.visible_to(user)
        .filter(where)
        .order_by()
        .values(*keys)
        .annotate(amount_total=Sum("amount_sum"), weighted_total=Sum("weighted_sum"), n=Sum("count"))
    )


_ALL_STORED_TOTALS = CompiledQuery(
    lambda is_admin, *, owners: _stored_total_rows(OwnerAccess(is_admin, owners), Q(), None), owners=list
)


def _admin_stored_totals(_key: tuple = ()) -> QuerySet:
    sums = {"amount_total": Sum("amount_sum"), "weighted_total": Sum("weighted_sum"), "n": Sum("count")}
    open_deals = DealTotal.objects.filter(status=DealStatus.OPEN).order_by().values("currency", "rate_month")
    closed_deals = ClosedDealTotal.objects.order_by().values("currency", "rate_month")
    return open_deals.annotate(**sums).union(closed_deals.annotate(**sums), all=True)


# An admin's unfiltered totals: ~800 open groups and a few hundred closed ones (``ClosedDealTotal``),
# where every owner's groups were ~10,000 at the benchmark's scale (2.5 ms of hashing and summing).
_ADMIN_STORED_TOTALS = CompiledQuery(_admin_stored_totals)


def _list_page(key: tuple[bool, tuple[str, ...], bool, int], *, owners: list[int]) -> QuerySet[Deal]:
    is_admin, order, custom, size = key
    fields = LIST_ROW_FIELDS + (("custom",) if custom else ())
    deals = Deal.objects.visible_to(OwnerAccess(is_admin, owners)).order_by(*order)
    return list_rows(deals, fields)[:size]


# The deal list's first page as most visits open it (no filter): built and compiled once per
# role, sort, custom-field columns and number of visible owners.
_UNFILTERED_LIST_PAGE = CompiledQuery(_list_page, owners=list)


def unfiltered_list_page(user: User, order: Sequence[str], *, custom: bool, size: int) -> list[ListRow]:
    """The first ``size`` rows (``LIST_ROW_FIELDS``, and ``custom`` with a custom-field column)
    of every deal ``user`` may see in ``order``: what the deal list's query with no filter
    gives for its first page."""
    return _UNFILTERED_LIST_PAGE.fetch((user.is_admin, tuple(order), custom, size), owners=owner_ids_of(user))


def deal_totals(
    user: User,
    rows: QuerySet[Deal],
    where: Q | None,
    *,
    group_by: str | None = None,
    book: RateBook | None = None,
) -> dict[object, MoneyTotal]:
    """Totals of ``rows`` (the user's visible deals filtered by ``where``): from the stored
    groups when ``where`` is a dimensions-only filter, else (``where`` is None: a title,
    date, amount, company or contact filter, all selective) by summing the rows."""
    if where is None:
        return money_totals(rows, group_by=group_by, book=book)
    return stored_money_totals(user, where, group_by=group_by, book=book)


def money_total(qs: QuerySet[Deal], *, book: RateBook | None = None) -> MoneyTotal:
    return money_totals(qs, book=book).get(None, MoneyTotal())


def money_total_of(deals: Sequence[Deal], *, book: RateBook | None = None) -> MoneyTotal:
    """``money_total`` of deals already loaded: the same sums per (currency, rate month) and
    the same conversion, in Python."""
    groups: dict[tuple[str, dt.date | None], dict[str, Any]] = {}
    for deal in deals:
        month = deal.closed_at.astimezone(dt.UTC).date().replace(day=1) if deal.closed_at else None
        row = groups.setdefault(
            (deal.currency, month),
            {"currency": deal.currency, "rate_month": month, "amount_total": Decimal("0"), "weighted_total": 0, "n": 0},
        )
        row["amount_total"] += deal.amount
        row["weighted_total"] += deal.amount * deal.probability
        row["n"] += 1
    return _fold(groups.values(), None, book or RateBook()).get(None, MoneyTotal())


# --- Board ---------------------------------------------------------------------------------


@dataclass
class BoardColumn:
    stage: Stage
    total: MoneyTotal
    cards: list[ListRow]  # ``card_of`` a deal
    next_cursor: str


def encode_cursor(deal: Deal | ListRow) -> str:
    return f"{deal.created_at.isoformat()}_{deal.pk}"


def decode_cursor(raw: str) -> tuple[dt.datetime, int] | None:
    """``(created_at, id)`` of the last card shown, or ``None`` for a malformed cursor."""
    created, _sep, pk = raw.rpartition("_")
    try:
        when = dt.datetime.fromisoformat(created)
    except ValueError:
        return None
    number = id_or_none(pk)
    if when.tzinfo is None or number is None or not MIN_DATE.year <= when.year <= MAX_DATE.year:
        return None
    return when, number


def board_deals(user: User, pipeline: Pipeline, filters: Q | None = None) -> QuerySet[Deal]:
    return Deal.objects.visible_to(user).filter(board_where(pipeline, filters))


# What a card shows (deals/jinja2/deals/board_cards.html) and its cursor reads, as a row of
# values (``crm.rows.ListRow``): a board's ~100 deals with their companies' and owners' names,
# without building ~350 model instances (deals, companies, owners) per page.
CARD_COLUMNS = (
    *("id", "title", "company_id", "owner_id", "pipeline_id", "stage_id", "amount", "currency", "probability"),
    *("probability_is_manual", "stage_entered_at", "created_at"),
)
_CARD_NAMES = {
    "company_name": F("company__name"),
    "owner_first_name": F("owner__first_name"),
    "owner_last_name": F("owner__last_name"),
    "owner_username": F("owner__username"),
}


def card_of(deal: Deal) -> ListRow:
    """A deal read as a model instance (a moved card) as the row the board's queries give."""
    row = ListRow({name: getattr(deal, name) for name in CARD_COLUMNS})
    company, owner = deal.company, deal.owner
    row.update(
        company_name=company.name if company is not None else None,
        owner_first_name=owner.first_name,
        owner_last_name=owner.last_name,
        owner_username=owner.username,
    )
    return row


def _column_page(qs: QuerySet[Deal], stage: Stage | int, after: str = "") -> QuerySet:
    """The query of one page (+1 card, to know whether there is more) of a column, as rows."""
    page = list_rows(qs.filter(stage=stage).annotate(**_CARD_NAMES), (*CARD_COLUMNS, *_CARD_NAMES))
    page = page.order_by("-created_at", "-id")
    cursor = decode_cursor(after) if after else None
    if cursor is not None:
        created, pk = cursor
        page = page.filter(Q(created_at__lt=created) | Q(created_at=created, id__lt=pk))
    return page[: BOARD_PAGE_SIZE + 1]


def _cards_and_cursor(cards: list[ListRow]) -> tuple[list[ListRow], str]:
    next_cursor = encode_cursor(cards[BOARD_PAGE_SIZE - 1]) if len(cards) > BOARD_PAGE_SIZE else ""
    return cards[:BOARD_PAGE_SIZE], next_cursor


def board_cards(qs: QuerySet[Deal], *, stage: Stage, after: str = "") -> tuple[list[ListRow], str]:
    """One page of a column's cards (newest first, keyset-paginated) and the next cursor."""
    return _cards_and_cursor(list(_column_page(qs, stage, after)))


def board_first_pages(
    qs: QuerySet[Deal], stages: list[Stage], *, unfiltered: tuple[User, Pipeline] | None = None
) -> dict[int, tuple[list[ListRow], str]]:
    """The first page of every column in ONE query: a UNION ALL of the per-column queries,
    each still a LIMIT walk of the (stage, created) index, rather than one query per column
    or a window over every open deal of the pipeline. ``unfiltered``: the viewer and the
    pipeline when ``qs`` is all of its open deals the viewer may see (the board without
    owner or team filter), read with SQL compiled once per process."""
    if not stages:
        return {}
    if unfiltered is not None:
        user, pipeline = unfiltered
        rows: Iterable[ListRow] = _FIRST_PAGES.fetch(
            user.is_admin, pipeline=pipeline.pk, stages=[stage.pk for stage in stages], owners=owner_ids_of(user)
        )
    else:
        parts = [_column_page(qs, stage) for stage in stages]
        rows = parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0]
    by_stage: dict[int, list[ListRow]] = {stage.pk: [] for stage in stages}
    for row in rows:
        by_stage[row["stage_id"]].append(row)
    pages = {}
    for stage_id, cards in by_stage.items():
        cards.sort(key=lambda row: (row["created_at"], row["id"]), reverse=True)
        pages[stage_id] = _cards_and_cursor(cards)
    return pages


def _first_pages(is_admin: bool, *, pipeline: int, stages: list[int], owners: list[int]) -> QuerySet:
    viewer = OwnerAccess(is_admin=is_admin, visible_owner_ids=owners)
    qs = Deal.objects.visible_to(viewer).filter(status=DealStatus.OPEN, pipeline_id=pipeline)
    parts = [_column_page(qs, stage) for stage in stages]
    return parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0]


# The unfiltered board's first pages: five columns' LIMIT walks in a UNION ALL took the ORM
# longer to build than PostgreSQL to run (crm/compiled.py).
_FIRST_PAGES = CompiledQuery(_first_pages, pipeline=int, stages=list, owners=list)


def board_where(pipeline: Pipeline, filters: Q | None = None) -> Q:
    """The deals of a board as a dimensions-only filter: ``board_deals`` is the visible deals
    filtered by it, and ``stored_money_totals`` can answer its totals."""
    return Q(status=DealStatus.OPEN, pipeline=pipeline) & (filters or Q())


def board_columns(
    qs: QuerySet[Deal], *, stages: list[Stage], user: User, where: Q, pipeline: Pipeline | None = None
) -> list[BoardColumn]:
    """Columns of the open stages: one totals query (over the stored totals: ``qs`` is the
    visible deals filtered by ``where``) and one cards query for all of them. ``pipeline``:
    given when ``where`` is only the pipeline's (``board_where(pipeline)``, no filter)."""
    totals = stored_money_totals(user, where, group_by="stage_id", book=RateBook())
    open_stages = [stage for stage in stages if not stage.is_closed]
    pages = board_first_pages(qs, open_stages, unfiltered=(user, pipeline) if pipeline is not None else None)
    columns = []
    for stage in open_stages:
        cards, next_cursor = pages[stage.pk]
        columns.append(
            BoardColumn(stage=stage, total=totals.get(stage.pk, MoneyTotal()), cards=cards, next_cursor=next_cursor)
        )
    return columns


# --- Staleness -----------------------------------------------------------------------------

_MEDIAN_SQL = """
SELECT t.to_stage_id, percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM t.next_at - t.at))
FROM (
    SELECT sc.to_stage_id, sc.at,
           LEAD(sc.at) OVER (PARTITION BY sc.deal_id ORDER BY sc.at, sc.id) AS next_at
    FROM deals_stagechange sc
    JOIN deals_stage s ON s.id = sc.to_stage_id
    WHERE s.pipeline_id = %s
) t
WHERE t.next_at IS NOT NULL
GROUP BY t.to_stage_id
"""


def stage_median_seconds(pipeline_id: int) -> dict[int, float]:
    """Median seconds a deal of the pipeline spends in each stage, from StageChange history.

    Cached for an hour per pipeline: it moves slowly and scans the pipeline's whole history.
    """
    key = f"deals:stage-median:{pipeline_id}"
    medians = cache.get(key)
    if medians is None:
        with connection.cursor() as cursor:
            cursor.execute(_MEDIAN_SQL, [pipeline_id])
            medians = {stage_id: float(seconds) for stage_id, seconds in cursor.fetchall()}
        cache.set(key, medians, STAGE_MEDIAN_CACHE_SECONDS)
    return medians


@dataclass(frozen=True)
class Staleness:
    no_activity_days: int | None
    stuck_days: int | None
    usual_days: int | None

    def __bool__(self) -> bool:
        return self.no_activity_days is not None or self.stuck_days is not None


def deal_staleness(deal: Deal) -> Staleness:
    """Why an open deal looks stale: no activity for its stage's rotting days (DEAL_STALE_DAYS
    when the stage sets none), or over 2× the usual time in stage."""
    if not deal.is_open:
        return Staleness(None, None, None)
    now = timezone.now()
    quiet_since = deal.last_activity_at or deal.created_at
    quiet_days = (now - quiet_since).days
    no_activity = quiet_days if quiet_days >= deal.stage.stale_after_days else None
    median = stage_median_seconds(deal.pipeline_id).get(deal.stage_id)
    in_stage = (now - deal.stage_entered_at).total_seconds()
    stuck = None
    usual = None
    if median and in_stage > 2 * median and in_stage >= 86400:
        stuck = int(in_stage // 86400)
        usual = max(int(median // 86400), 1)
    return Staleness(no_activity, stuck, usual)


def deal_reopen_stage(deal: Deal) -> Stage | None:
    """Where a closed deal reopens by default: the open stage it was closed from, else the first."""
    last_open = (
        StageChange.objects.filter(
            deal=deal, from_stage__pipeline_id=deal.pipeline_id, from_stage__is_won=False, from_stage__is_lost=False
        )
        .select_related("from_stage")
        .order_by("-at", "-id")
        .first()
    )
    if last_open is not None:
        return last_open.from_stage
    return (
        Stage.objects.filter(pipeline_id=deal.pipeline_id, is_won=False, is_lost=False)
        .order_by("position", "id")
        .first()
    )


# --- History -------------------------------------------------------------------------------


def _stage_history(_key: tuple, *, deal: int) -> QuerySet[StageChange]:
    return (
        StageChange.objects.filter(deal=deal)
        .select_related("from_stage", "to_stage", "actor", "lost_reason")
        .order_by("-at", "-id")
    )


def _edit_history(limit: int, *, deal: int) -> QuerySet:
    return (
        Deal.history.filter(id=deal)
        .select_related("history_user")
        .order_by("-history_date", "-history_id")[: limit + 1]
    )


# The deal page's two histories: built and compiled once.
_STAGE_HISTORY = CompiledQuery(_stage_history, deal=int)
_EDIT_HISTORY = CompiledQuery(_edit_history, deal=int)


def deal_stage_history(deal: Deal) -> list[StageChange]:
    """Stage moves, newest first, each with ``left_at`` (when the deal left that stage, or None)."""
    changes = _STAGE_HISTORY.fetch(deal=deal.pk)
    left_at = None
    for change in changes:
        change.left_at = left_at
        left_at = change.at
    return changes


def _history_change(name: str, old: object, new: object) -> dict:
    model_field = Deal._meta.get_field(name)
    if model_field.is_relation:
        # Related rows are not fetched per entry (that would cost a query each); the stage
        # history shows stage names, the facts show the current company and owner.
        return {"field": str(model_field.verbose_name), "old": None, "new": None}
    if model_field.choices:
        labels = dict(model_field.flatchoices)
        old, new = labels.get(old, old), labels.get(new, new)
    return {"field": str(model_field.verbose_name), "old": old, "new": new}


def deal_edit_history(deal: Deal, *, limit: int = 20) -> list[dict]:
    """Field-level changes from simple-history, newest first: ``{at, user, reason, changes}``."""
    records = _EDIT_HISTORY.fetch(limit, deal=deal.pk)
    entries = []
    for newer, older in zip(records, records[1:], strict=False):
        delta = newer.diff_against(older, excluded_fields=["version", "stage_entered_at", "created_at", "custom"])
        # Custom fields (one JSONB column) are shown field by field, under their labels.
        custom = custom_fields.history_changes(Deal, older.custom, newer.custom)
        entries.append(
            {
                "at": newer.history_date,
                "user": newer.history_user,
                "reason": newer.history_change_reason or "",
                "changes": [_history_change(c.field, c.old, c.new) for c in delta.changes]
                + [{"field": label, "old": old, "new": new} for label, old, new in custom],
            }
        )
    if len(records) <= limit and records:
        first = records[-1]
        reason = first.history_change_reason or ""
        entries.append({"at": first.history_date, "user": first.history_user, "reason": reason, "changes": []})
    return entries


def open_deals_summary(user: User) -> dict:
    """The home panel: the user's own open deals, weighted total, and those closing this month.

    One query: the open deals' stored totals (``DealTotal``) UNION ALL the sums of the few
    rows closing this month (a date filter the stored totals cannot answer). Open deals have
    no close date, so both parts are per currency at today's rate.
    """
    month_start = timezone.localdate().replace(day=1)
    next_month = (month_start + dt.timedelta(days=32)).replace(day=1)
    rows = _OPEN_DEALS_SUMMARY.fetch(owner=user.pk, month_start=month_start, next_month=next_month)
    groups = _fold(rows, "part", RateBook())
    return {"open": groups.get("open", MoneyTotal()), "closing": groups.get("closing", MoneyTotal())}


def _open_deals_summary(key: object, *, owner: int, month_start: dt.date, next_month: dt.date) -> QuerySet:
    no_month = Value(None, output_field=DateField())
    everything = (
        DealTotal.objects.filter(owner_id=owner, status=DealStatus.OPEN)
        .order_by()
        .values("currency")
        .annotate(
            part=Value("open"),
            rate_month=no_month,
            amount_total=Sum("amount_sum"),
            weighted_total=Sum("weighted_sum"),
            n=Sum("count"),
        )
    )
    closing = (
        Deal.objects.filter(
            owner_id=owner,
            status=DealStatus.OPEN,
            expected_close_date__gte=month_start,
            expected_close_date__lt=next_month,
        )
        .order_by()
        .values("currency")
        .annotate(
            part=Value("closing"),
            rate_month=no_month,
            amount_total=Sum("amount"),
            weighted_total=Sum(F("amount") * F("probability")),
            n=Count("id"),
        )
    )
    return everything.union(closing, all=True)


# Compiled once per process (crm/compiled.py): the home panel of every home and My day page.
_OPEN_DEALS_SUMMARY = CompiledQuery(_open_deals_summary, owner=int, month_start=dt.date, next_month=dt.date)


def home_panel_context(request: HttpRequest) -> dict | None:
    if not request.user.is_authenticated:
        return None
    return open_deals_summary(request.user)


def search_deals(user: User, query: str, limit: int) -> SearchSection:
    """Deals whose title contains ``query`` (trigram-indexed), visible to ``user`` only."""
    hits = list(
        Deal.objects.visible_to(user)
        .filter(text_contains_q("title", query))  # ILIKE: the title's trigram (or CJK bigram) index
        .select_related("company", "stage")
        # Sort the trigram matches rather than walk the title index hoping they come early.
        .order_by(unindexed(F("title")), "id")[: limit + 1]
    )
    return SearchSection(
        title=str(_("Deals")),
        hits=[
            SearchHit(
                title=deal.title,
                url=deal.get_absolute_url(),
                subtitle=" · ".join(filter(None, [deal.company.name if deal.company else "", deal.stage.name])),
            )
            for deal in hits[:limit]
        ],
        more_url=f"{reverse('deals:list')}?{urlencode({'q': query})}",
        has_more=len(hits) > limit,
    )
