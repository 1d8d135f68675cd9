"""Keyset ("seek") pagination for lists that must stay fast at a million rows.

A page is fetched with ``WHERE (sort keys, id) > (the last row's) ORDER BY … LIMIT n``, which
an index on the same columns answers without reading the rows before it, unlike ``OFFSET``.
The cursor in the URL is the sort-key values of the row at the edge of the page.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from django.db import connections
from django.db.models import CharField, DateTimeField, Expression, F, IntegerField, Q, QuerySet, TextField
from django.db.models.functions import Coalesce

from crm.params import MAX_DATE, MAX_ID, MIN_DATE


@dataclass(frozen=True)
class SortOption:
    """A sort a list offers: ``keys`` are expressions backed by an index, ``id`` is appended."""

    label: str
    keys: tuple[Expression, ...]
    descending: bool = False


def unindexed(expression: Expression | F) -> Coalesce:
    """``expression`` as ``COALESCE(expression, expression)``: the same value and order, but
    no index provides it. A search orders its matches by this, so the planner collects them
    through the trigram indexes and sorts them, instead of walking the name index in list
    order and filtering: for a common term that walk read 800k rows to find 51 (seconds at
    a million contacts; bench/FINDINGS.md)."""
    return Coalesce(expression, expression)


def for_search(option: SortOption) -> SortOption:
    return replace(option, keys=tuple(unindexed(key) for key in option.keys))


@dataclass(frozen=True)
class KeysetPage:
    rows: list[Any]
    has_next: bool
    has_previous: bool
    next_cursor: str = ""
    previous_cursor: str = ""


def _encode(values: list[Any]) -> str:
    data = [{"dt": v.isoformat()} if isinstance(v, datetime) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


def _safe_scalar(item: Any) -> bool:
    """A cursor value PostgreSQL can compare: text without NUL, or a number within bigint."""
    if isinstance(item, str):
        return "\x00" not in item
    return isinstance(item, int) and not isinstance(item, bool) and abs(item) <= MAX_ID


def _decode(cursor: str, length: int) -> list[Any] | None:
    """The values in ``cursor``, or ``None`` for anything malformed (treated as "first page")."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, list) or len(data) != length:
        return None
    values: list[Any] = []
    for item in data:
        if isinstance(item, dict) and isinstance(item.get("dt"), str):
            try:
                when = datetime.fromisoformat(item["dt"])
            except ValueError:
                return None
            if not MIN_DATE.year <= when.year <= MAX_DATE.year:
                return None
            values.append(when)
        elif _safe_scalar(item):
            values.append(item)
        else:
            return None
    if not isinstance(values[-1], int):
        return None
    return values


def _fits(qs: QuerySet, option: SortOption, values: list[Any]) -> bool:
    """Whether a decoded cursor's ``values`` have the types of ``option``'s keys over ``qs``
    (text for a text key, a date and time for one, a whole number for the id): a cursor
    edited to hold a number where a name goes would otherwise fail the query (a 500)."""
    keys = qs.annotate(**{f"_fit{i}": key for i, key in enumerate(option.keys)}).query.annotations
    for i, value in enumerate(values[:-1]):
        field = keys[f"_fit{i}"].output_field
        if isinstance(field, DateTimeField):
            expected: type = datetime
        elif isinstance(field, CharField | TextField):
            expected = str
        elif isinstance(field, IntegerField):
            expected = int
        else:
            return False
        if not isinstance(value, expected):
            return False
    return isinstance(values[-1], int)


def _position(qs: QuerySet, option: SortOption, *, after: str, before: str) -> tuple[list[Any] | None, bool]:
    """The cursor's values (``before``'s if given, else ``after``'s) and whether the page goes
    backward; ``(None, False)``, the first page, for none or a malformed one."""
    length = len(option.keys) + 1
    for raw, backward in ((before, True), (after, False)):
        values = _decode(raw, length) if raw else None
        if values is not None and _fits(qs, option, values):
            return values, backward
    return None, False


def _beyond(names: list[str], values: list[Any], *, forward: bool) -> Q:
    """Rows strictly after ``values`` in (names…) order when ``forward``, else strictly before."""
    op = "gt" if forward else "lt"
    condition = Q()
    for i in range(len(names)):
        step = Q(**{f"{names[j]}": values[j] for j in range(i)}) & Q(**{f"{names[i]}__{op}": values[i]})
        condition |= step
    # The redundant bound on the first key lets PostgreSQL start the index scan there.
    return Q(**{f"{names[0]}__{op}e": values[0]}) & condition


def _sort_names(option: SortOption) -> list[str]:
    return [f"_sort{i}" for i in range(len(option.keys))] + ["id"]


def first_page_query(qs: QuerySet, option: SortOption, *, size: int = 50) -> QuerySet:
    """The query of ``keyset_page``'s first page (no cursor): ``size`` + 1 rows in ``option``'s
    order; ``first_page`` turns its rows into the page."""
    names = _sort_names(option)
    qs = qs.annotate(**dict(zip(names, option.keys, strict=False)))
    ordering = [F(name).desc() if option.descending else F(name).asc() for name in names]
    return qs.order_by(*ordering)[: size + 1]


def first_page(rows: list[Any], option: SortOption, *, size: int = 50) -> KeysetPage:
    """The first page from the rows of ``first_page_query``."""
    return _page(rows, _sort_names(option), size=size, backward=False, cursor=None)


def keyset_page(qs: QuerySet, option: SortOption, *, after: str = "", before: str = "", size: int = 50) -> KeysetPage:
    names = _sort_names(option)
    cursor, backward = _position(qs, option, after=after, before=before)
    if cursor is None:
        return first_page(list(first_page_query(qs, option, size=size)), option, size=size)
    qs = qs.annotate(**dict(zip(names, option.keys, strict=False)))
    # Walking backwards reads the index in reverse and flips the rows afterwards.
    descending = option.descending != backward
    qs = qs.filter(_beyond(names, cursor, forward=not descending))
    ordering = [F(name).desc() if descending else F(name).asc() for name in names]
    rows = list(qs.order_by(*ordering)[: size + 1])
    return _page(rows, names, size=size, backward=backward, cursor=cursor)


def _page(rows: list[Any], names: list[str], *, size: int, backward: bool, cursor: list[Any] | None) -> KeysetPage:
    more = len(rows) > size
    rows = rows[:size]
    if backward:
        rows.reverse()
        has_next, has_previous = True, more
    else:
        has_next, has_previous = more, cursor is not None
    if not rows:
        return KeysetPage(rows=[], has_next=False, has_previous=False)
    return KeysetPage(
        rows=rows,
        has_next=has_next,
        has_previous=has_previous,
        next_cursor=_encode([getattr(rows[-1], name) for name in names]),
        previous_cursor=_encode([getattr(rows[0], name) for name in names]),
    )


def capped_count_query(qs: QuerySet, cap: int = 1000) -> QuerySet:
    """The ids ``capped_count`` counts: at most ``cap`` + 1."""
    return qs.order_by().values("pk")[: cap + 1]


def capped_count(qs: QuerySet, cap: int = 1000) -> tuple[int, bool]:
    """(count, more): counts at most ``cap`` + 1 rows, so a big table is never fully counted."""
    return capped(capped_count_query(qs, cap).count(), cap)


def capped(count: int, cap: int = 1000) -> tuple[int, bool]:
    """(count, more) of a count of ``capped_count_query``'s rows."""
    return min(count, cap), count > cap


def _beyond_sql(columns: list[str], *, forward: bool) -> str:
    """``_beyond`` in SQL over the CTE's columns (same conditions, one ``%s`` per value)."""
    op = ">" if forward else "<"
    steps = []
    for i in range(len(columns)):
        equal = [f"{columns[j]} = %s" for j in range(i)]
        steps.append("(" + " AND ".join([*equal, f"{columns[i]} {op} %s"]) + ")")
    return f"{columns[0]} {op}= %s AND ({' OR '.join(steps)})"


def _beyond_params(values: list[Any]) -> list[Any]:
    params = [values[0]]
    for i in range(len(values)):
        params.extend(values[: i + 1])
    return params


def _keyed(records: QuerySet, option: SortOption) -> QuerySet:
    """``records``' sort keys and id (``_sort0``…, ``id``), unordered."""
    names = _sort_names(option)
    return records.order_by().annotate(**dict(zip(names, option.keys, strict=False))).values_list(*names)


def _collected_keys(
    records: QuerySet, option: SortOption, cursor: list[Any] | None, *, descending: bool, limit: int
) -> tuple[list[tuple[Any, ...]], int | None]:
    """The sort keys and ids of the first ``limit`` of ``records`` beyond ``cursor`` (in
    ``option``'s order, or against it when ``descending`` differs), collected as
    ``search_page`` explains; and how many ``records`` there are, or ``None`` when no row was
    beyond the cursor (the count comes with the rows)."""
    names = _sort_names(option)
    inner_sql, inner_params = _keyed(records, option).query.sql_with_params()
    columns = [f'm."{name}"' for name in names]
    where, where_params = "", []
    if cursor is not None:
        where = "WHERE " + _beyond_sql(columns, forward=not descending)
        where_params = _beyond_params(cursor)
    direction = "DESC" if descending else "ASC"
    sql = (
        f"WITH m AS MATERIALIZED ({inner_sql}) "  # noqa: S608 (SQL names from model metadata and module constants; values are bound parameters)
        f"SELECT {', '.join(columns)}, (SELECT COUNT(*) FROM m) FROM m {where} "
        f"ORDER BY {', '.join(f'{c} {direction}' for c in columns)} LIMIT %s"
    )
    with connections[records.db].cursor() as db:
        db.execute(sql, [*inner_params, *where_params, limit])
        found = db.fetchall()
    return [row[:-1] for row in found], (found[0][-1] if found else None)


def search_page(
    qs: QuerySet,
    option: SortOption,
    *,
    after: str = "",
    before: str = "",
    size: int = 50,
    cap: int = 1000,
    matching: QuerySet | None = None,
    rows_by_id: Callable[[list[int]], Iterable[Any]] | None = None,
) -> tuple[KeysetPage, int, bool]:
    """``keyset_page`` and ``capped_count`` of a search in one pass over its matches.

    A search's matches come from trigram bitmaps and must all be read to sort them
    (``unindexed``), so counting them as well costs next to nothing: one query collects the
    matches' ids and sort keys (a ``MATERIALIZED`` CTE, planned without a LIMIT, so the
    planner does not pick a sequential scan hoping 1,001 matches come early), counts them
    and sorts them top-N; a second reads the page's rows with their related rows by id.
    Before, the page query joined the company and owner to every match before sorting, and
    the capped count was a separate scan (an admin's ``?q=smith``: 86 + 89–187 ms).

    ``matching``: the same records before ``qs`` chose the columns of a row (``list_rows``):
    the matches are collected from it, without the tables only a row's columns join (an inner
    join PostgreSQL keeps for every match: the owner's, 13,718 rows for an admin's ``smith``).

    ``rows_by_id``: reads the page's rows of the ids found, as ``qs`` filtered by them would
    (``contacts.selectors.list_rows_by_id``, a compiled query), instead of ``qs``.

    Returns the page and ``(min(count, cap), count > cap)`` like ``capped_count``.
    """
    records = qs if matching is None else matching
    cursor, backward = _position(records, option, after=after, before=before)
    keys, total = _collected_keys(records, option, cursor, descending=option.descending != backward, limit=size + 1)
    if total is None:
        total = _keyed(records, option).count() if cursor is not None else 0
    page = _keys_page(
        [list(key) for key in keys],
        size=size,
        backward=backward,
        from_cursor=cursor is not None,
        rows_by_id=rows_by_id or (lambda ids: qs.filter(pk__in=ids).order_by()),
    )
    return page, min(total, cap), total > cap


def _keys_page(
    found: list[list[Any]],
    *,
    size: int,
    backward: bool,
    from_cursor: bool,
    rows_by_id: Callable[[list[int]], Iterable[Any]],
) -> KeysetPage:
    """The page of ``found``: the cursor values of up to ``size`` + 1 rows in the order they
    were read (backward: from the cursor back), each ending with the row's id; the rows read by
    ``rows_by_id``. ``from_cursor``: read from a cursor rather than from the start."""
    more = len(found) > size
    found = found[:size]
    if backward:
        found.reverse()
        has_next, has_previous = True, more
    else:
        has_next, has_previous = more, from_cursor
    if not found:
        return KeysetPage(rows=[], has_next=False, has_previous=False)
    by_id = {row.pk: row for row in rows_by_id([values[-1] for values in found])}
    return KeysetPage(
        rows=[by_id[values[-1]] for values in found if values[-1] in by_id],
        has_next=has_next,
        has_previous=has_previous,
        next_cursor=_encode(found[-1]),
        previous_cursor=_encode(found[0]),
    )


@dataclass(frozen=True)
class Tier:
    """A block of a search's results (``tiered_search_page``): ``records`` in ``option``'s
    order. ``walk``: read in that order from an index on ``option``'s keys, only as many rows
    as a page shows (a block whose own condition that index answers, such as a surname);
    otherwise collected and sorted as ``search_page`` does."""

    records: QuerySet
    option: SortOption
    walk: bool = False


@dataclass(frozen=True)
class TieredSearch:
    """What ``tiered_search_page`` pages: its blocks, and optionally all their records to count
    in one query instead (where an index finds them all at once more cheaply than the blocks
    one by one)."""

    tiers: list[Tier]
    counted: QuerySet | None = None


def _tier_keys(
    tier: Tier, cursor: list[Any] | None, *, backward: bool, limit: int
) -> tuple[list[tuple[Any, ...]], int | None]:
    """``_collected_keys`` of ``tier``: for a walked tier, read from its index (no count)."""
    descending = tier.option.descending != backward
    if not tier.walk:
        return _collected_keys(tier.records, tier.option, cursor, descending=descending, limit=limit)
    names = _sort_names(tier.option)
    qs = tier.records.order_by().annotate(**dict(zip(names, tier.option.keys, strict=False)))
    if cursor is not None:
        qs = qs.filter(_beyond(names, cursor, forward=not descending))
    ordering = [F(name).desc() if descending else F(name).asc() for name in names]
    return list(qs.order_by(*ordering).values_list(*names)[:limit]), None


def _tier_cursor(cursor: str, tiers: list[Tier]) -> tuple[int, list[Any]] | None:
    """(block, keys) of a ``tiered_search_page`` cursor, or ``None`` if it is malformed."""
    values = _decode(cursor, len(_sort_names(tiers[0].option)) + 1) if cursor else None
    if values is None or not isinstance(values[0], int) or not 0 <= values[0] < len(tiers):
        return None
    tier = tiers[values[0]]
    return (values[0], values[1:]) if _fits(tier.records, tier.option, values[1:]) else None


def _tiered_count(search: TieredSearch, totals: dict[int, int], cap: int) -> int:
    """How many records ``search`` has, exactly up to ``cap`` (beyond it, some number over
    it): ``search.counted``'s, or the blocks' added up until they pass ``cap`` (``totals``:
    those the page's reads counted already)."""
    if search.counted is not None:
        return search.counted.count()
    count = 0
    for index, tier in enumerate(search.tiers):
        if count > cap:
            break
        if index in totals:
            count += totals[index]
        elif tier.walk:
            count += capped_count_query(tier.records, cap - count).count()
        else:
            count += _keyed(tier.records, tier.option).count()
    return count


def tiered_search_page(
    search: TieredSearch,
    *,
    rows_by_id: Callable[[list[int]], Iterable[Any]],
    after: str = "",
    before: str = "",
    size: int = 50,
    cap: int = 1000,
) -> tuple[KeysetPage, int, bool]:
    """``search_page`` of results in blocks: every row of ``search.tiers[0]`` in its order,
    then ``tiers[1]``'s in theirs… (the contact list's "best match": the contacts whose
    surname is a word searched, by name, then the other matches by name). The blocks must not
    share a row, and their options must have as many keys; a cursor names its row's block
    besides its keys, so pages go forward and back across a block's end.

    A page reads a block only once the blocks before it are exhausted, and the capped count
    adds the blocks' counts until it passes ``cap``: for an admin's "smith", the first page
    and its count read 51 and 1,001 of the 13,309 Smiths from the surname index, not the
    13,718 matches from 10,504 table pages (bench/FINDINGS.md §7.22).

    With ``search.counted``, the count is of those records, in one query.

    ``rows_by_id`` reads the page's rows of the ids found, in any order.
    """
    tiers = search.tiers
    position = _tier_cursor(before, tiers) if before else None
    backward = position is not None
    if not backward:
        position = _tier_cursor(after, tiers) if after else None
    start, cursor = position if position is not None else (0, None)
    found: list[tuple[int, tuple[Any, ...]]] = []
    totals: dict[int, int] = {}
    for index in range(start, -1, -1) if backward else range(start, len(tiers)):
        keys, total = _tier_keys(
            tiers[index], cursor if index == start else None, backward=backward, limit=size + 1 - len(found)
        )
        if total is not None:
            totals[index] = total
        found += [(index, key) for key in keys]
        if len(found) > size:
            break
    count = _tiered_count(search, totals, cap)
    page = _keys_page(
        [[index, *key] for index, key in found],
        size=size,
        backward=backward,
        from_cursor=position is not None,
        rows_by_id=rows_by_id,
    )
    return page, min(count, cap), count > cap
