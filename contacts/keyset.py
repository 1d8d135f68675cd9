"""Keyset ("seek") pagination for lists that must stay fast at a million rows.

A page is fetched with ``WHERE (sort keys, id) > (the last row's) ORDER BY … LIMIT n``, which
an index on the same columns answers without reading the rows before it, unlike ``OFFSET``.
The cursor in the URL is the sort-key values of the row at the edge of the page.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from django.db.models import Expression, F, Q, QuerySet
from django.db.models.functions import Coalesce


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
                values.append(datetime.fromisoformat(item["dt"]))
            except ValueError:
                return None
        elif isinstance(item, str | int) and not isinstance(item, bool):
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


def keyset_page(qs: QuerySet, option: SortOption, *, after: str = "", before: str = "", size: int = 50) -> KeysetPage:
    names = [f"_sort{i}" for i in range(len(option.keys))] + ["id"]
    qs = qs.annotate(**dict(zip(names, option.keys, strict=False)))
    cursor = _decode(before, len(names)) if before else None
    backward = cursor is not None
    if not backward:
        cursor = _decode(after, len(names)) if after else None
    # Walking backwards reads the index in reverse and flips the rows afterwards.
    descending = option.descending != backward
    if cursor is not None:
        qs = qs.filter(_beyond(names, cursor, forward=not descending))
    ordering = [F(name).desc() if descending else F(name).asc() for name in names]
    rows = list(qs.order_by(*ordering)[: size + 1])
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


def capped_count(qs: QuerySet, cap: int = 1000) -> tuple[int, bool]:
    """(count, more): counts at most ``cap`` + 1 rows, so a big table is never fully counted."""
    count = qs.order_by().values("pk")[: cap + 1].count()
    return min(count, cap), count > cap
