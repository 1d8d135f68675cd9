"""Server-side prepared statements for the SQL this process compiles once (``crm.compiled``,
the request user's query in ``crm.backends``).

Compiling a query once saves the ORM's work, not PostgreSQL's: the server still parses and
plans each query it is sent, and planning cost 1.5–3.5 ms of a page's database time at the
benchmark's scale, more than executing on several pages (a deal page: 3.2 ms planning, 0.7 ms
execution). A ``Statement`` is prepared once per database connection (``PREPARE``) and then
run with each call's values (``EXECUTE``): after five runs PostgreSQL keeps a generic plan when
it is as good as the custom ones, and plans no more.

On when the connection outlives a request (``DATABASE_CONN_MAX_AGE`` > 0, as under gunicorn)
and ``DATABASE_PREPARED_STATEMENTS`` is not 0; a connection per request would prepare on every
request. **Off behind PgBouncer in transaction mode** (docs/scaling.md): a statement prepared
on one server connection is unknown to the next.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from contextlib import nullcontext
from typing import Any

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from psycopg2.errors import DuplicatePreparedStatement
from psycopg2.extensions import AsIs

logger = logging.getLogger(__name__)

_names = itertools.count(1)

# PostgreSQL types of the values a statement takes, by Python type (crm.compiled's kinds).
PG_TYPES = {"int": "bigint", "int[]": "bigint[]", "datetime": "timestamptz", "date": "date"}


def enabled(connection: BaseDatabaseWrapper) -> bool:
    return settings.DATABASE_PREPARED_STATEMENTS and connection.settings_dict.get("CONN_MAX_AGE") != 0


class Statement:
    """``sql`` (with ``%s`` placeholders) whose parameters are ``params``: a constant, or
    ``Variable(type)`` for a value each run passes (in order)."""

    def __init__(self, sql: str, params: Sequence[Any]) -> None:
        self.name = f"crm_{next(_names)}"
        self.sql = sql
        self.params = tuple(params)
        self.types = [param.pg_type for param in self.params if isinstance(param, Variable)]
        self.broken = False  # PostgreSQL refused to prepare it: run as plain SQL

    def sql_with_params(self, connection: BaseDatabaseWrapper, values: list[Any]) -> tuple[str, list[Any]]:
        """What to send on ``connection`` for ``values`` (one per ``Variable``): ``EXECUTE`` of the
        statement prepared there (preparing it first), else the SQL itself."""
        if not self.broken and enabled(connection) and self._prepare(connection):
            placeholders = ", ".join(["%s"] * len(values))
            return (f"EXECUTE {self.name} ({placeholders})" if values else f"EXECUTE {self.name}"), values
        it = iter(values)
        return self.sql, [next(it) if isinstance(param, Variable) else param for param in self.params]

    def _prepare(self, connection: BaseDatabaseWrapper) -> bool:
        connection.ensure_connection()
        raw = connection.connection
        # The statements prepared on this connection; a new connection (reconnect) has none.
        prepared = connection.__dict__.get("_crm_prepared")
        if prepared is None or prepared[0] is not raw:
            prepared = connection._crm_prepared = (raw, set())
        if self.name in prepared[1]:
            return True
        numbers = itertools.count(1)
        header = f"PREPARE {self.name} ({', '.join(self.types)}) AS " if self.types else f"PREPARE {self.name} AS "
        # A savepoint inside a transaction, so that a refusal does not abort it.
        guard = transaction.atomic(using=connection.alias) if connection.in_atomic_block else nullcontext()
        try:
            with guard, connection.cursor() as cursor:
                body = [AsIs(f"${next(numbers)}") if isinstance(param, Variable) else param for param in self.params]
                cursor.execute(header + cursor.mogrify(self.sql, body).decode())
        except DatabaseError as exc:
            if isinstance(exc.__cause__, DuplicatePreparedStatement):
                # This session already has it (prepared before our record of the connection began).
                prepared[1].add(self.name)
                return True
            logger.warning("PostgreSQL did not prepare %s; it runs as plain SQL", self.name, exc_info=True)
            self.broken = True
            return False
        prepared[1].add(self.name)
        return True


class Variable:
    """A parameter each run of a ``Statement`` passes, of the PostgreSQL type ``pg_type``."""

    __slots__ = ("pg_type",)

    def __init__(self, pg_type: str) -> None:
        self.pg_type = pg_type
