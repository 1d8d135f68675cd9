"""Inserting many rows fast: PostgreSQL ``COPY`` from model instances.

``bulk_create`` spends most of its time in Python, preparing each value of each row through
the SQL compiler (about 0.2 ms per row of a 20-column model). Imports write 100,000 rows of
records, their history rows and their timeline events; through ``COPY`` the same rows cost a
fraction of that. The instances get their primary keys from the table's sequence first, so
callers can link related rows to them, exactly as after ``bulk_create`` on PostgreSQL.

Values are read from the instance ``__dict__`` (no descriptors, no ``pre_save``): callers set
``auto_now`` fields and defaults themselves, which ``Model.__init__`` already does for
defaults. Only plain value types are supported (text, numbers, booleans, dates, JSON, foreign
key ids); no signals are sent, like ``bulk_create``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from typing import Any

from django.contrib.postgres.fields import ArrayField
from django.db import connection, models

from crm.history import fit_change_reason

COPY_BATCH = 20_000


def _text(value: Any) -> Any:
    if value is None:
        return ""
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _json(value: Any) -> Any:
    return "" if value is None else json.dumps(value, ensure_ascii=False)


def _array(value: Any) -> Any:
    """A PostgreSQL array literal of text values (``{"a","b"}``)."""
    if value is None:
        return ""
    quoted = ('"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"' for v in value)
    return "{" + ",".join(quoted) + "}"


def _converter(field: models.Field) -> Callable[[Any], Any]:
    if isinstance(field, models.JSONField):
        return _json
    if isinstance(field, ArrayField):
        return _array
    return _text


def reserve_ids(model: type[models.Model], count: int) -> list[int]:
    """``count`` new primary key values from the table's sequence, in order."""
    if count <= 0:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [model._meta.db_table, model._meta.pk.column, count],
        )
        return [row[0] for row in cursor.fetchall()]


def copy_rows(
    model: type[models.Model], fields: Sequence[models.Field], rows: Iterable[Sequence[Any]], *, table: str = ""
) -> int:
    """``COPY`` ``rows`` (database values in the order of ``fields``) into ``model``'s table
    (or into ``table``, which has those columns)."""
    table = connection.ops.quote_name(table or model._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    # An empty unquoted CSV value is NULL; for NOT NULL columns it is the empty string.
    not_null = [connection.ops.quote_name(f.column) for f in fields if not f.null]
    options = "FORMAT csv" + (f", FORCE_NOT_NULL ({', '.join(not_null)})" if not_null else "")
    converters = [_converter(f) for f in fields]
    total = 0
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")

    def flush() -> None:
        buffer.seek(0)
        with connection.cursor() as cursor:
            cursor.cursor.copy_expert(f"COPY {table} ({columns}) FROM STDIN WITH ({options})", buffer)
        buffer.seek(0)
        buffer.truncate()

    pending = 0
    for row in rows:
        writer.writerow([convert(value) for convert, value in zip(converters, row, strict=True)])
        pending += 1
        total += 1
        if pending >= COPY_BATCH:
            flush()
            pending = 0
    if pending:
        flush()
    return total


def copy_instances(model: type[models.Model], objs: Sequence[models.Model]) -> None:
    """Insert unsaved ``objs`` with ``COPY``; each gets its primary key first."""
    if not objs:
        return
    for obj, pk in zip(objs, reserve_ids(model, len(objs)), strict=True):
        obj.pk = pk
        obj._state.adding = False
    fields = [f for f in model._meta.concrete_fields if not f.generated]  # PostgreSQL computes those
    attnames = [f.attname for f in fields]
    copy_rows(model, fields, ([obj.__dict__.get(name) for name in attnames] for obj in objs))


def copy_update(model: type[models.Model], objs: Sequence[models.Model], field_names: Sequence[str]) -> None:
    """Write ``field_names`` of the saved ``objs`` in one ``UPDATE … FROM`` a temporary table
    filled by ``COPY`` (``bulk_update`` builds a ``CASE`` over every row of the batch for each
    column, which PostgreSQL evaluates row by row: quadratic in the batch size)."""
    if not objs:
        return
    opts = model._meta
    fields = [opts.pk] + [opts.get_field(name) for name in field_names]
    quote = connection.ops.quote_name
    temp = f"_bulk_update_{opts.db_table}"
    columns = ", ".join(quote(f.column) for f in fields)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {quote(temp)}")
        cursor.execute(
            f"CREATE TEMPORARY TABLE {quote(temp)} ON COMMIT DROP AS "  # noqa: S608 (SQL names from model metadata and module constants; values are bound parameters)
            f"SELECT {columns} FROM {quote(opts.db_table)} WITH NO DATA"
        )
    attnames = [f.attname for f in fields]
    copy_rows(model, fields, ([obj.__dict__.get(name) for name in attnames] for obj in objs), table=temp)
    assignments = ", ".join(f"{quote(f.column)} = s.{quote(f.column)}" for f in fields[1:])
    if "version" in {f.name for f in opts.concrete_fields} and "version" not in field_names:
        # A versioned record changed in bulk conflicts with every edit form loaded before it.
        assignments += f", {quote('version')} = t.{quote('version')} + 1"
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {quote(opts.db_table)} AS t SET {assignments} FROM {quote(temp)} AS s "  # noqa: S608 (SQL names from model metadata and module constants; values are bound parameters)
            f"WHERE t.{quote(opts.pk.column)} = s.{quote(opts.pk.column)}"
        )
        cursor.execute(f"DROP TABLE {quote(temp)}")


def copy_history(
    model: type[models.Model],
    objs: Sequence[models.Model],
    *,
    user_id: int | None,
    reason: str,
    when: datetime,
    history_type: str = "+",
) -> None:
    """One history row per object (``+`` created, ``~`` changed) in its simple-history table,
    written with ``COPY`` (what ``bulk_create_with_history`` / ``bulk_update_with_history``
    write, without building a model instance per row)."""
    history = model.history.model
    tracked = {f.attname for f in model._meta.concrete_fields}
    fields = [f for f in history._meta.concrete_fields if f.attname != "history_id"]
    extra = {
        "history_date": when,
        "history_change_reason": fit_change_reason(reason),
        "history_type": history_type,
        "history_user_id": user_id,
    }
    getters = []
    for f in fields:
        if f.attname in extra:
            getters.append((False, extra[f.attname]))
        elif f.attname == "id" or f.attname in tracked:
            getters.append((True, f.attname))
        else:
            raise ValueError(f"{history.__name__}.{f.attname} is neither tracked nor a history column")
    copy_rows(
        history,
        fields,
        ([obj.__dict__.get(arg) if from_obj else arg for from_obj, arg in getters] for obj in objs),
    )
