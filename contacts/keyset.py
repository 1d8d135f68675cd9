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
from django.db.models import Expression, F, Q, QuerySet
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
    cursor = _decode(before, len(names)) if before else None
    backward = cursor is not None
    if not backward:
        cursor = _decode(after, len(names)) if after else None
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
    names = [f"_sort{i}" for i in range(len(option.keys))] + ["id"]
    records = qs if matching is None else matching
    inner = records.order_by().annotate(**dict(zip(names, option.keys, strict=False))).values_list(*names)
    inner_sql, inner_params = inner.query.sql_with_params()
    columns = [f'm."{name}"' for name in names]
    cursor = _decode(before, len(names)) if before else None
    backward = cursor is not None
    if not backward:
        cursor = _decode(after, len(names)) if after else None
    descending = option.descending != backward
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
    with connections[qs.db].cursor() as db:
        db.execute(sql, [*inner_params, *where_params, size + 1])
        found = db.fetchall()
    total = found[0][-1] if found else inner.count() if cursor is not None else 0
    keys = [row[:-1] for row in found]
    more = len(keys) > size
    keys = keys[:size]
    if backward:
        keys.reverse()
        has_next, has_previous = True, more
    else:
        has_next, has_previous = more, cursor is not None
    if not keys:
        return KeysetPage(rows=[], has_next=False, has_previous=False), min(total, cap), total > cap
    ids = [key[-1] for key in keys]
    by_id = {row.pk: row for row in (qs.filter(pk__in=ids).order_by() if rows_by_id is None else rows_by_id(ids))}
    rows = [by_id[key[-1]] for key in keys if key[-1] in by_id]
    page = KeysetPage(
        rows=rows,
        has_next=has_next,
        has_previous=has_previous,
        next_cursor=_encode(list(keys[-1])),
        previous_cursor=_encode(list(keys[0])),
    )
    return page, min(total, cap), total > cap
