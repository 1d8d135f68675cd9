"""Querysets whose SQL is compiled once per process and then run with new values.

Building and compiling a queryset is Python work that the database never sees: a company's
timeline (a union of three index walks, three name subqueries, two joined tables) took
about 3.6 ms of the ORM's time per page against 3 ms of PostgreSQL's. Its shape is the same on
every company page; only the company's id changes. ``CompiledQuery`` builds such a queryset
once with marker values, keeps the SQL and the compiler that read it, and afterwards runs the
same SQL with the real values put where the markers were: model instances (with
``select_related`` and annotations), ``values()`` dicts or ``values_list()`` tuples come back
exactly as from the queryset itself (Django's own row iterators read them), without building
or compiling anything.

Only values named in the call may change between calls. The first compile builds the
queryset twice and refuses a shape whose other parameters differ between the two builds
(a ``timezone.now()`` inside, say), and refuses one where a marker does not reach the SQL as
a parameter of its own. ``crm/backends.py`` does the same by hand for the request user.
"""

from __future__ import annotations

import copy
import datetime as dt
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.contrib.postgres.fields import ArrayField
from django.db import DEFAULT_DB_ALIAS, connections, router
from django.db.models import BigIntegerField, BooleanField, F, Func, Model, QuerySet, Value
from django.db.models.sql.compiler import SQLCompiler
from django.db.models.sql.query import Query
from django.utils import timezone, translation

from crm.prepared import PG_TYPES, Statement, Variable

M = TypeVar("M", bound=Model)

# Values no row holds: where they land in the parameters is where a call's values go.
_INT_MARKER = -7_919_400
_TIME_MARKER = dt.datetime(1901, 2, 3, 4, 5, 6, tzinfo=dt.UTC)
_DATE_MARKER = dt.date(1901, 3, 4)

Slot = tuple[str, int]  # (name of the value, index in a list value, -1 for a single one, _WHOLE for an array)
_WHOLE = -2


class IdArray(list):
    """The kind of a list of ids passed whole, as one ``bigint[]`` parameter (``= ANY(%s)``,
    ``crm.compiled.any_of``): one shape whatever its length, where a ``list`` (``__in``) is
    compiled once per length."""


_KIND_NAMES = {int: "int", list: "int", IdArray: "int[]", dt.datetime: "datetime", dt.date: "date"}  # lists hold ints


def _markers(values: dict[str, Any], kinds: dict[str, type]) -> tuple[dict[str, Any], dict[Any, Slot]]:
    """Marker values for ``values`` (the real ones give only the length of a list) and which
    value each marker stands for."""
    markers: dict[str, Any] = {}
    by_marker: dict[Any, Slot] = {}
    for name in values:
        kind = kinds[name]
        if kind is int:
            markers[name] = _INT_MARKER - len(by_marker)
            by_marker[markers[name]] = (name, -1)
        elif kind is dt.datetime:
            markers[name] = _TIME_MARKER + dt.timedelta(microseconds=len(by_marker) + 1)
            by_marker[markers[name]] = (name, -1)
        elif kind is dt.date:
            markers[name] = _DATE_MARKER + dt.timedelta(days=len(by_marker) + 1)
            by_marker[markers[name]] = (name, -1)
        elif kind is IdArray:
            # A one-item list: the array reaches the SQL as one parameter, a list with this item.
            markers[name] = [_INT_MARKER - len(by_marker)]
            by_marker[markers[name][0]] = (name, _WHOLE)
        elif kind is list:
            markers[name] = []
            for index in range(len(values[name])):
                markers[name].append(_INT_MARKER - len(by_marker))
                by_marker[markers[name][-1]] = (name, index)
        else:
            raise TypeError(
                f"{name}: only int, date, datetime and list (of ints) or IdArray values are compiled in, not {kind}"
            )
    return markers, by_marker


def _marker_slot(param: Any, by_marker: dict[Any, Slot]) -> Slot | None:
    """The value ``param`` stands for, if it is a marker: an int, date or datetime, or an
    array's one-item list (unhashable parameters — lists, dicts — are never markers else)."""
    if type(param) in (int, dt.date, dt.datetime):
        slot = by_marker.get(param)
        return slot if slot is not None and slot[1] != _WHOLE else None
    if type(param) is list and len(param) == 1 and type(param[0]) is int:
        slot = by_marker.get(param[0])
        return slot if slot is not None and slot[1] == _WHOLE else None
    return None


def any_of(field: str, ids: list[int]) -> Func:
    """``field = ANY(ids)``, a filter whose ids are one array parameter (``IdArray``)."""
    return AnyOf(F(field), Value(list(ids), output_field=ArrayField(BigIntegerField())))


class AnyOf(Func):
    """``expression = ANY(array)``: with an ``ARRAY(subquery)`` the subquery runs once, first."""

    template = "%(expressions)s)"
    arg_joiner = " = ANY("
    output_field = BooleanField()


@dataclass(frozen=True)
class _Compiled:
    model: type[Model]
    query: Query
    iterable_class: type
    fields: tuple[str, ...] | None
    compiler: SQLCompiler
    sql: str
    slots: tuple[tuple[Slot | None, Any], ...]  # (the value's slot, or None and the constant)
    statement: Statement  # the SQL prepared on each connection (crm/prepared.py)
    count_statement: Statement  # its SELECT COUNT(*)


class CompiledQuery(Generic[M]):
    """``build(key, **values)`` → a queryset (of ``M`` instances, or values), compiled once per ``key`` (a hashable
    naming the shape, when ``build`` makes more than one) and run by ``fetch(key, **values)``.

    ``values`` are the parameters that change between calls: ints (ids), dates, aware datetimes,
    each used as a plain parameter of the query (``pk=``, ``occurred_at__lt=``…, not in
    arithmetic or a slice), lists of ints used with ``__in`` (a list's length is part of
    the shape: one compile per length), and lists of ints declared ``IdArray`` and used with
    ``any_of`` (one array parameter: one compile for every length). The active language and
    time zone are part of the shape too.
    """

    def __init__(self, build: Callable[..., QuerySet[M]], **kinds: type) -> None:
        self._build = build
        self._kinds = kinds
        self._compiled: dict[Hashable, _Compiled] = {}
        self._lock = threading.Lock()

    def fetch(self, key: Hashable = (), /, **values: Any) -> list[Any]:
        compiled, params = self._prepared(key, values)
        db = router.db_for_read(compiled.model)
        connection = connections[db]
        compiler = copy.copy(compiled.compiler)
        compiler.connection, compiler.using = connection, db
        # The SQL and values to send: EXECUTE of the statement prepared on this connection, or the SQL.
        compiler.as_sql = lambda *args, **kwargs: compiled.statement.sql_with_params(connection, params)  # type: ignore[method-assign]
        query = copy.copy(compiled.query)
        query.get_compiler = lambda *args, **kwargs: compiler  # type: ignore[method-assign]
        rows = QuerySet(model=compiled.model, query=query, using=db)
        rows._iterable_class, rows._fields = compiled.iterable_class, compiled.fields
        return list(rows)

    def count(self, key: Hashable = (), /, **values: Any) -> int:
        """How many rows ``fetch`` would return, counted by PostgreSQL (``SELECT COUNT(*)`` of
        the query, as Django counts a sliced queryset)."""
        compiled, params = self._prepared(key, values)
        connection = connections[router.db_for_read(compiled.model)]
        sql, params = compiled.count_statement.sql_with_params(connection, params)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()[0]

    def _prepared(self, key: Hashable, values: dict[str, Any]) -> tuple[_Compiled, list[Any]]:
        # A list's length is part of the shape (``__in`` writes one placeholder per item), and
        # so are the active language and time zone: collations and time zones are written
        # into the SQL (``Collate``, ``AT TIME ZONE``), not passed as parameters.
        shape = (
            key,
            tuple(sorted((name, len(value)) for name, value in values.items() if self._kinds.get(name) is list)),
            translation.get_language(),
            timezone.get_current_timezone_name(),
        )
        compiled = self._compiled.get(shape)
        if compiled is None:
            with self._lock:
                compiled = self._compiled.get(shape) or self._compile(key, values)
                self._compiled[shape] = compiled
        # The call's values in the order the SQL takes them (the constants are the statement's).
        params = [
            values[slot[0]] if slot[1] < 0 else values[slot[0]][slot[1]] for slot, _constant in compiled.slots if slot
        ]
        return compiled, params

    def _compile(self, key: Hashable, values: dict[str, Any]) -> _Compiled:
        unknown = set(values) - set(self._kinds)
        if unknown:
            raise TypeError(f"no kind declared for {', '.join(sorted(unknown))}")
        markers, by_marker = _markers(values, self._kinds)
        qs = self._build(key, **markers)
        if qs._prefetch_related_lookups:
            raise TypeError("a compiled query runs one query: no prefetch_related")
        compiler = qs.query.get_compiler(using=DEFAULT_DB_ALIAS)
        sql, params = compiler.as_sql()
        again_sql, again_params = self._build(key, **markers).query.get_compiler(using=DEFAULT_DB_ALIAS).as_sql()
        if (sql, tuple(params)) != (again_sql, tuple(again_params)):
            raise ValueError(f"{key!r}: the query changes between two builds with the same values")
        found = [_marker_slot(p, by_marker) for p in params]
        slots = tuple((slot, None) if slot is not None else (None, p) for slot, p in zip(found, params, strict=True))
        reached = {slot for slot, _constant in slots if slot is not None}
        # An empty list has no marker to miss (an admin's owners: no filter at all).
        missing = sorted({name for name, _index in set(by_marker.values()) - reached})
        if missing:
            raise ValueError(f"{key!r}: {', '.join(missing)} did not reach the SQL as a parameter")
        # Each value as a parameter of its PostgreSQL type; the constants stay in the SQL.
        template = [
            constant if slot is None else Variable(PG_TYPES[_KIND_NAMES[self._kinds[slot[0]]]])
            for slot, constant in slots
        ]
        return _Compiled(
            model=qs.model,
            query=qs.query,
            iterable_class=qs._iterable_class,
            fields=qs._fields,
            compiler=compiler,
            sql=sql,
            slots=slots,
            statement=Statement(sql, template),
            # The SQL is Django's compiler's, with placeholders; the values are parameters.
            count_statement=Statement(f"SELECT COUNT(*) FROM ({sql}) subquery", template),  # noqa: S608
        )


@dataclass(frozen=True)
class OwnerAccess:
    """What the owner-based access rules read of a user (``OwnedQuerySet.visible_to``,
    ``can_read_owner``), as the stand-in a compiled query is built with: ``visible_owner_ids``
    are then markers, and each call passes the signed-in user's own (``owner_ids_of``)."""

    is_admin: bool
    visible_owner_ids: list[int]


def owner_ids_of(user: Any) -> list[int]:
    """The ``visible_owner_ids`` a compiled query built with ``OwnerAccess(user.is_admin, …)``
    takes: none for an admin (no filter), else the user's, in a stable order."""
    return [] if user.is_admin else sorted(user.visible_owner_ids)
