"""The ``service_casequeuetotal`` rollup: PostgreSQL triggers that keep it equal to a GROUP BY
of the active cases (see ``service.models.CaseQueueTotal``).

The case list's queue tabs show each queue's active and breached cases. Counting them per
visit read every active case of the queues the user sees (26,538 for an admin at the
benchmark's scale: 3 ms of a 30 ms budget, growing with the backlog); the tabs now add up a
few rows per queue. Built like ``deals.totals``: statement-level AFTER triggers with transition
tables, one upsert per statement in key order, groups at zero deleted, so any write — the
services, ``QuerySet.update`` (the SLA sweep, bulk assignment), COPY, cascades, the admin —
keeps the counts exact in its own transaction.

The key is (queue, assignee, breached): each user's cases are rows of their own, and only the
unassigned cases of a queue share one row per SLA state. A new case that arrives unassigned
waits for that row's lock while another transaction holding it commits (one short upsert).

A loader that turns triggers off (``session_replication_role = replica``) calls ``rebuild``
afterwards (``manage.py rebuild_case_queue_totals``).
"""

from __future__ import annotations

from deals.totals import Rollup, function_sql, statement_triggers, uninstall_sql, upsert_sql
from service.models import ACTIVE_STATUSES

TABLE = "service_casequeuetotal"
KEY = "team_id, assignee_id, sla_breached"
_COUNTED = ("team_id", "assignee_id", "sla_breached", "status")
_ACTIVE = "(" + ", ".join(f"'{status}'" for status in sorted(ACTIVE_STATUSES)) + ")"
_NAME = "service_queuetotal"  # of the triggers and their functions
_FUNCTIONS = tuple(f"{_NAME}_after_{event}" for event in ("insert", "update", "delete"))


def _upsert(delta: str) -> str:
    return upsert_sql(TABLE, KEY, {"cases": "n"}, delta)


def install_sql(_zone: str = "") -> list[str]:
    """The functions and triggers (no time zone is involved: ``Rollup`` passes one anyway)."""
    inserted = f"SELECT r.team_id, r.assignee_id, r.sla_breached, 1 AS n FROM new_rows r WHERE r.status IN {_ACTIVE}"  # noqa: S608 (module constants)
    deleted = f"SELECT o.team_id, o.assignee_id, o.sla_breached, -1 AS n FROM old_rows o WHERE o.status IN {_ACTIVE}"  # noqa: S608 (module constants)
    old_cols = ", ".join(f"o.{c}" for c in _COUNTED)
    new_cols = ", ".join(f"r.{c}" for c in _COUNTED)
    # An UPDATE adds the new row if it is active and subtracts the old one if it was; the
    # upsert drops the groups whose changes cancel out (new → open in the same queue).
    updated = f"""
        SELECT v.* FROM old_rows o JOIN new_rows r ON r.id = o.id
        CROSS JOIN LATERAL (VALUES
            (r.team_id, r.assignee_id, r.sla_breached, CASE WHEN r.status IN {_ACTIVE} THEN 1 ELSE 0 END),
            (o.team_id, o.assignee_id, o.sla_breached, CASE WHEN o.status IN {_ACTIVE} THEN -1 ELSE 0 END)
        ) AS v(team_id, assignee_id, sla_breached, n)
        WHERE ({old_cols}) IS DISTINCT FROM ({new_cols})
    """  # noqa: S608 (module constants)
    return [
        function_sql(_FUNCTIONS[0], _upsert(inserted)),
        function_sql(_FUNCTIONS[1], _upsert(updated)),
        function_sql(_FUNCTIONS[2], _upsert(deleted)),
        *statement_triggers(_NAME, "service_case", TABLE),
    ]


UNINSTALL_SQL = uninstall_sql(_NAME, "service_case")


def fresh_totals_sql(_zone: str = "") -> str:
    """The counts as a GROUP BY of the active cases (what the table must always equal)."""
    return f"""
        SELECT team_id, assignee_id, sla_breached, count(*) AS cases
        FROM service_case
        WHERE status IN {_ACTIVE}
        GROUP BY 1, 2, 3
    """  # noqa: S608 (module constants)


ROLLUP = Rollup(
    table=TABLE,
    key=KEY,
    summed="cases",
    locks="service_case",
    install_sql=install_sql,
    fresh_sql=fresh_totals_sql,
)
install, rebuild, differences = ROLLUP.install, ROLLUP.rebuild, ROLLUP.differences
