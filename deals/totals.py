"""The ``deals_dealtotal`` aggregate: PostgreSQL triggers that keep it equal to a GROUP BY of
``deals_deal`` (see ``deals.models.DealTotal``), and ``deals_closeddealtotal``, the closed
deals' groups of every owner together (``ClosedDealTotal``, ``CLOSED_ROLLUP`` below), kept the
same way.

Why triggers: every write to ``deals_deal`` passes through them, in the writer's transaction —
the services, ``QuerySet.update`` (bulk owner changes, merges), ``crm.bulk``'s COPY, cascades,
the admin — so the totals are exact and transactional without each write path remembering to
bump anything. They are statement-level AFTER triggers with transition tables: one upsert per
statement whatever the number of rows (a COPY of 300k deals is one GROUP BY), and an UPDATE
that changes none of the summed columns (``last_activity_at``, ``version``…) writes nothing.
The upsert takes the rows in key order, so two transactions touching the same keys lock them
in the same order (no deadlock between two statements). Rows whose count drops to zero are
deleted, so the table holds exactly the groups that have deals.

The rate month is ``date_trunc('month', closed_at AT TIME ZONE <TIME_ZONE>)`` as Django's
``TruncMonth`` computes it, so the zone is baked into the functions: after a change of
TIME_ZONE run ``manage.py rebuild_deal_totals`` (it reinstalls the functions and refills).

``session_replication_role = replica`` (the dataset generator's bulk load) skips triggers like
it skips foreign-key checks: such a loader must call ``rebuild`` afterwards.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import connection

TABLE = "deals_dealtotal"
KEY = "owner_id, pipeline_id, stage_id, status, currency, rate_month"
_SUMMED = ("owner_id", "pipeline_id", "stage_id", "status", "currency", "closed_at", "amount", "probability")


def zone_literal(cursor) -> str:
    zone = settings.TIME_ZONE if settings.USE_TZ else "UTC"
    return cursor.mogrify("%s", [zone]).decode()


def _month(alias: str, zone: str) -> str:
    return f"(date_trunc('month', {alias}.closed_at AT TIME ZONE {zone}))::date"


def upsert_sql(table: str, key: str, sums: dict[str, str], delta: str) -> str:
    """A trigger body adding the signed rows of ``delta`` (the ``key`` columns and one column
    per entry of ``sums``, named by its value) to ``table``'s summed columns (the keys of
    ``sums``), in key order, then deleting the groups left at zero. The first summed column is
    the row count. (``campaigns.totals`` keeps its table the same way.)"""
    summed = ", ".join(sums)
    added = ", ".join(f"sum({delta_col})" for delta_col in sums.values())
    nonzero = " OR ".join(f"sum({delta_col}) <> 0" for delta_col in sums.values())
    assigned = ",\n            ".join(f"{col} = t.{col} + EXCLUDED.{col}" for col in sums)
    count = next(iter(sums))
    return f"""
    WITH up AS (
        INSERT INTO {table} AS t ({key}, {summed})
        SELECT {key}, {added}
        FROM ({delta}) d
        GROUP BY {key}
        HAVING {nonzero}
        ORDER BY {key}
        ON CONFLICT ({key}) DO UPDATE SET
            {assigned}
        RETURNING t.id, t.{count}
    )
    SELECT array_agg(id) INTO emptied FROM up WHERE {count} = 0;
    IF emptied IS NOT NULL THEN
        DELETE FROM {table} WHERE id = ANY(emptied) AND {count} = 0;
    END IF;
    RETURN NULL;
"""  # noqa: S608 (names are module constants; the time zone is a literal quoted by mogrify)


def function_sql(name: str, body: str) -> str:
    """A plpgsql trigger function (``emptied``: the groups an upsert left at zero)."""
    return f"""
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE emptied bigint[];
BEGIN
{body}
END
$fn$;
"""


def _key_columns(key: tuple[str, ...], alias: str, zone: str, *, named: bool = False) -> list[str]:
    """``key``'s columns of the deal row ``alias``, the rate month computed (and named)."""
    month = _month(alias, zone) + (" AS rate_month" if named else "")
    return [f"{alias}.{c}" if c != "rate_month" else month for c in key]


def _trigger_sql(table: str, key: tuple[str, ...], zone: str, *, closed_only: bool = False) -> list[str]:
    """The functions and triggers keeping ``table`` (count and money per ``key``: columns of
    the deal, ``rate_month`` computed) equal to a GROUP BY of the deals — of the closed ones
    (won or lost) with ``closed_only``."""
    new_key, old_key = _key_columns(key, "r", zone), _key_columns(key, "o", zone)
    only_new = " WHERE r.status <> 'open'" if closed_only else ""
    only_old = " WHERE o.status <> 'open'" if closed_only else ""
    named_new, named_old = _key_columns(key, "r", zone, named=True), _key_columns(key, "o", zone, named=True)
    inserted = (
        f"SELECT {', '.join(named_new)}, 1 AS n, r.amount AS a, r.amount * r.probability AS w "  # noqa: S608 (names are module constants; the time zone is a literal quoted by mogrify)
        f"FROM new_rows r{only_new}"
    )
    deleted = (
        f"SELECT {', '.join(named_old)}, -1 AS n, -o.amount AS a, -(o.amount * o.probability) AS w "  # noqa: S608 (names are module constants; the time zone is a literal quoted by mogrify)
        f"FROM old_rows o{only_old}"
    )
    old_cols = ", ".join(f"o.{c}" for c in _SUMMED)
    new_cols = ", ".join(f"r.{c}" for c in _SUMMED)
    names = ", ".join(key)
    # Each changed deal adds its new group and subtracts its old one (of a closed deal only,
    # with ``closed_only``: the side's own status decides).
    updated = f"""
        SELECT {", ".join(f"v.{c}" for c in key)}, v.n, v.a, v.w FROM old_rows o JOIN new_rows r ON r.id = o.id
        CROSS JOIN LATERAL (VALUES
            ({", ".join(new_key)}, r.status, 1, r.amount, r.amount * r.probability),
            ({", ".join(old_key)}, o.status, -1, -o.amount, -(o.amount * o.probability))
        ) AS v({names}, side_status, n, a, w)
        WHERE ({old_cols}) IS DISTINCT FROM ({new_cols}){" AND v.side_status <> 'open'" if closed_only else ""}
    """  # noqa: S608 (names are module constants; the time zone is a literal quoted by mogrify)

    def upsert(delta: str) -> str:
        return upsert_sql(table, names, {"count": "n", "amount_sum": "a", "weighted_sum": "w"}, delta)

    return [
        function_sql(f"{table}_after_insert", upsert(inserted)),
        function_sql(f"{table}_after_update", upsert(updated)),
        function_sql(f"{table}_after_delete", upsert(deleted)),
        *statement_triggers(table, "deals_deal", table),
    ]


def statement_triggers(name: str, on: str, rollup: str) -> list[str]:
    """The statement-level AFTER triggers ``{name}_{insert,update,delete,truncate}`` on the
    table ``on``, each calling ``{name}_after_{event}()`` with its transition tables
    (``new_rows``, ``old_rows``), and the truncate function, which empties ``rollup``; the
    other three functions are the caller's (``function_sql``)."""
    return [
        f"""
CREATE OR REPLACE FUNCTION {name}_after_truncate() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    DELETE FROM {rollup};
    RETURN NULL;
END
$fn$;
""",  # noqa: S608 (names are module constants)
        *_drop_triggers(name, on),
        f"CREATE TRIGGER {name}_insert AFTER INSERT ON {on} REFERENCING NEW TABLE AS new_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {name}_after_insert()",
        f"CREATE TRIGGER {name}_update AFTER UPDATE ON {on} REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {name}_after_update()",
        f"CREATE TRIGGER {name}_delete AFTER DELETE ON {on} REFERENCING OLD TABLE AS old_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {name}_after_delete()",
        f"CREATE TRIGGER {name}_truncate AFTER TRUNCATE ON {on} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {name}_after_truncate()",
    ]


_EVENTS = ("insert", "update", "delete", "truncate")


def _drop_triggers(name: str, on: str) -> list[str]:
    return [f"DROP TRIGGER IF EXISTS {name}_{event} ON {on}" for event in _EVENTS]


def uninstall_sql(name: str, on: str) -> list[str]:
    """What undoes ``statement_triggers`` and the caller's functions."""
    return [*_drop_triggers(name, on), *(f"DROP FUNCTION IF EXISTS {name}_after_{event}()" for event in _EVENTS)]


def install_sql(zone: str) -> list[str]:
    """The functions and triggers, for a quoted ``zone`` literal."""
    return _trigger_sql(TABLE, tuple(KEY.split(", ")), zone)


UNINSTALL_SQL = uninstall_sql(TABLE, "deals_deal")


def fresh_totals_sql(zone: str) -> str:
    """The totals as a GROUP BY of ``deals_deal`` (what the table must always equal)."""
    return f"""
        SELECT owner_id, pipeline_id, stage_id, status, currency, {_month("d", zone)} AS rate_month,
               count(*) AS count, sum(amount) AS amount_sum, sum(amount * probability) AS weighted_sum
        FROM deals_deal d
        GROUP BY 1, 2, 3, 4, 5, 6
    """  # noqa: S608 (names are module constants; the time zone is a literal quoted by mogrify)


@dataclass(frozen=True)
class Rollup:
    """A table that triggers keep equal to a GROUP BY: its functions (re)installed for the
    current TIME_ZONE, a refill, and the groups where it and a fresh GROUP BY disagree.
    ``campaigns.totals`` keeps its table the same way."""

    table: str
    key: str
    summed: str  # the summed columns, in ``fresh_sql``'s order
    locks: str  # the tables the GROUP BY reads, locked against writers during a refill
    install_sql: Callable[[str], list[str]]
    fresh_sql: Callable[[str], str]

    def install(self, cursor=None) -> None:
        """(Re)create the trigger functions for the current TIME_ZONE."""
        if cursor is None:
            with connection.cursor() as cursor:
                self.install(cursor)
            return
        for statement in self.install_sql(zone_literal(cursor)):
            cursor.execute(statement)

    def rebuild(self, cursor=None) -> int:
        """Refill the table from the GROUP BY (writers wait meanwhile); returns the row count."""
        if cursor is None:
            with connection.cursor() as cursor:
                return self.rebuild(cursor)
        cursor.execute(f"LOCK TABLE {self.locks} IN SHARE MODE")
        cursor.execute(f"DELETE FROM {self.table}")  # noqa: S608 (names are module constants)
        cursor.execute(
            f"INSERT INTO {self.table} ({self.key}, {self.summed}) "  # noqa: S608 (names are module constants; the time zone is a literal quoted by mogrify)
            f"SELECT * FROM ({self.fresh_sql(zone_literal(cursor))}) f ORDER BY {self.key}"
        )
        return cursor.rowcount

    def differences(self, cursor=None) -> list[tuple]:
        """Groups where the table and a fresh GROUP BY disagree (empty when exact)."""
        if cursor is None:
            with connection.cursor() as cursor:
                return self.differences(cursor)
        stored = f"SELECT {self.key}, {self.summed} FROM {self.table}"  # noqa: S608 (names are module constants)
        fresh = self.fresh_sql(zone_literal(cursor))
        both_ways = f"(({stored}) EXCEPT ALL ({fresh})) UNION ALL (({fresh}) EXCEPT ALL ({stored}))"
        cursor.execute(f"{both_ways} ORDER BY 1, 2, 3")
        return cursor.fetchall()


ROLLUP = Rollup(
    table=TABLE,
    key=KEY,
    summed="count, amount_sum, weighted_sum",
    locks="deals_deal",
    install_sql=install_sql,
    fresh_sql=fresh_totals_sql,
)
install, rebuild, differences = ROLLUP.install, ROLLUP.rebuild, ROLLUP.differences


# The closed deals' money of every owner together (``deals.models.ClosedDealTotal``): an
# admin's unfiltered deal list adds these few hundred groups to the open deals' ``DealTotal``
# rows instead of summing ~10,000 groups (one per owner and closing month). A deal won or lost
# updates its stage's row of the month for every owner at once, so two closings in the same
# pipeline stage, currency and month wait for each other's commit (one short upsert); an open
# deal's edits and moves never touch this table.
CLOSED_TABLE = "deals_closeddealtotal"
CLOSED_KEY = "pipeline_id, stage_id, status, currency, rate_month"


def closed_install_sql(zone: str) -> list[str]:
    return _trigger_sql(CLOSED_TABLE, tuple(CLOSED_KEY.split(", ")), zone, closed_only=True)


def fresh_closed_totals_sql(zone: str) -> str:
    """The closed deals' totals as a GROUP BY of ``deals_deal``."""
    return f"""
        SELECT pipeline_id, stage_id, status, currency, {_month("d", zone)} AS rate_month,
               count(*) AS count, sum(amount) AS amount_sum, sum(amount * probability) AS weighted_sum
        FROM deals_deal d
        WHERE status <> 'open'
        GROUP BY 1, 2, 3, 4, 5
    """  # noqa: S608 (names are module constants; the time zone is a literal quoted by mogrify)


CLOSED_ROLLUP = Rollup(
    table=CLOSED_TABLE,
    key=CLOSED_KEY,
    summed="count, amount_sum, weighted_sum",
    locks="deals_deal",
    install_sql=closed_install_sql,
    fresh_sql=fresh_closed_totals_sql,
)
CLOSED_UNINSTALL_SQL = uninstall_sql(CLOSED_TABLE, "deals_deal")
