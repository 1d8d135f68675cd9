"""The ``campaigns_campaigndealtotal`` rollup: PostgreSQL triggers that keep it equal to a
GROUP BY of the deals each campaign created (see ``campaigns.models.CampaignDealTotal``).

A row of the rollup needs an attribution (``campaigns_dealattribution.created_by_campaign``)
*and* its deal (status, currency, amount, close day), so both tables carry triggers, built like
``deals.totals``'s (statement-level, transition tables, one upsert per statement in key order,
groups at zero deleted):

- an attribution inserted, deleted or moved to another campaign or deal adds or subtracts its
  deal as that deal is now;
- a deal whose status, currency, amount or close time changes moves its campaign's money from
  the old group to the new; a deal deleted (or inserted) while its attribution exists
  subtracts (adds) it.

Each pair is counted once whichever goes first: Django deletes an attribution before its deal
(the deal's trigger then finds no attribution), and a raw delete of the deal first leaves the
attribution's trigger no deal to subtract.

The close day is ``(closed_at AT TIME ZONE <TIME_ZONE>)::date``, as Django's ``TruncDate``
computes it, so the zone is baked into the functions: after a change of TIME_ZONE run
``manage.py rebuild_campaign_totals``. A loader that turns triggers off
(``session_replication_role = replica``) calls ``rebuild`` afterwards.
"""

from __future__ import annotations

from deals.totals import Rollup, function_sql, statement_triggers, uninstall_sql, upsert_sql

TABLE = "campaigns_campaigndealtotal"
KEY = "campaign_id, status, currency, closed_on"
_SUMS = {"deals": "n", "amount_sum": "a"}
# What a group depends on, per table.
_DEAL_COLUMNS = ("status", "currency", "amount", "closed_at")
_ATTRIBUTION_COLUMNS = ("created_by_campaign_id", "deal_id")
# The triggers' names on each table (``deals.totals.statement_triggers``: ``{name}_insert`` …
# calling ``{name}_after_insert()`` …).
_ON_ATTRIBUTIONS = "campaigns_dealtotal_attribution"
_ON_DEALS = "campaigns_dealtotal_deal"


def _group(attribution: str, deal: str, zone: str, sign: str) -> str:
    """The select list of one signed (attribution, deal) pair's group."""
    return (
        f"{attribution}.created_by_campaign_id AS campaign_id, {deal}.status, {deal}.currency, "
        f"CASE WHEN {deal}.status = 'won' THEN ({deal}.closed_at AT TIME ZONE {zone})::date END AS closed_on, "
        f"{sign}1 AS n, {sign}{deal}.amount AS a"
    )


def install_sql(zone: str) -> list[str]:
    """The functions and triggers, for a quoted ``zone`` literal."""

    def pairs(attribution: str, deal: str, sign: str) -> str:
        # ``attribution`` or ``deal`` is a transition table; the other is the live table.
        attributions = "campaigns_dealattribution" if attribution == "a" else attribution
        deals = "deals_deal" if deal == "d" else deal
        return (
            f"SELECT {_group('x', 'y', zone, sign)} FROM {attributions} x "  # noqa: S608 (names are module constants; the time zone is a literal quoted by mogrify)
            f"JOIN {deals} y ON y.id = x.deal_id WHERE x.created_by_campaign_id IS NOT NULL"
        )

    def moved(columns: tuple[str, ...], joined: str) -> str:
        """An UPDATE's pairs: the new rows added, the old subtracted, where ``columns`` changed.
        ``joined`` is the other table, joined to each side."""
        old_cols = ", ".join(f"o.{c}" for c in columns)
        new_cols = ", ".join(f"r.{c}" for c in columns)
        if joined == "deal":
            sides = (
                f"SELECT {_group('r', 'y', zone, '')} FROM changed r JOIN deals_deal y ON y.id = r.deal_id "  # noqa: S608 (module constants)
                "WHERE r.created_by_campaign_id IS NOT NULL",
                f"SELECT {_group('o', 'y', zone, '-')} FROM changed_old o JOIN deals_deal y ON y.id = o.deal_id "  # noqa: S608 (module constants)
                "WHERE o.created_by_campaign_id IS NOT NULL",
            )
        else:
            sides = (
                f"SELECT {_group('x', 'r', zone, '')} FROM changed r "  # noqa: S608 (module constants)
                "JOIN campaigns_dealattribution x ON x.deal_id = r.id WHERE x.created_by_campaign_id IS NOT NULL",
                f"SELECT {_group('x', 'o', zone, '-')} FROM changed_old o "  # noqa: S608 (module constants)
                "JOIN campaigns_dealattribution x ON x.deal_id = o.id WHERE x.created_by_campaign_id IS NOT NULL",
            )
        return f"""
        WITH changed AS (SELECT r.* FROM old_rows o JOIN new_rows r ON r.id = o.id
                         WHERE ({old_cols}) IS DISTINCT FROM ({new_cols})),
             changed_old AS (SELECT o.* FROM old_rows o JOIN new_rows r ON r.id = o.id
                             WHERE ({old_cols}) IS DISTINCT FROM ({new_cols}))
        {sides[0]}
        UNION ALL
        {sides[1]}
        """  # noqa: S608 (names are module constants; the time zone is a literal quoted by mogrify)

    bodies = (
        pairs("new_rows", "d", ""),
        moved(_ATTRIBUTION_COLUMNS, "deal"),
        pairs("old_rows", "d", "-"),
        pairs("a", "new_rows", ""),
        moved(_DEAL_COLUMNS, "attribution"),
        pairs("a", "old_rows", "-"),
    )
    names = [f"{on}_after_{event}" for on in (_ON_ATTRIBUTIONS, _ON_DEALS) for event in ("insert", "update", "delete")]
    return [
        *(function_sql(name, upsert_sql(TABLE, KEY, _SUMS, body)) for name, body in zip(names, bodies, strict=True)),
        *statement_triggers(_ON_ATTRIBUTIONS, "campaigns_dealattribution", TABLE),
        *statement_triggers(_ON_DEALS, "deals_deal", TABLE),
    ]


UNINSTALL_SQL = [*uninstall_sql(_ON_ATTRIBUTIONS, "campaigns_dealattribution"), *uninstall_sql(_ON_DEALS, "deals_deal")]


def fresh_totals_sql(zone: str) -> str:
    """The totals as a GROUP BY of the attributions and their deals (what the table must equal)."""
    return f"""
        SELECT a.created_by_campaign_id AS campaign_id, d.status, d.currency,
               CASE WHEN d.status = 'won' THEN (d.closed_at AT TIME ZONE {zone})::date END AS closed_on,
               count(*) AS deals, sum(d.amount) AS amount_sum
        FROM campaigns_dealattribution a JOIN deals_deal d ON d.id = a.deal_id
        WHERE a.created_by_campaign_id IS NOT NULL
        GROUP BY 1, 2, 3, 4
    """  # noqa: S608 (names are module constants; the time zone is a literal quoted by mogrify)


ROLLUP = Rollup(
    table=TABLE,
    key=KEY,
    summed="deals, amount_sum",
    locks="campaigns_dealattribution, deals_deal",
    install_sql=install_sql,
    fresh_sql=fresh_totals_sql,
)
install, rebuild, differences = ROLLUP.install, ROLLUP.rebuild, ROLLUP.differences
