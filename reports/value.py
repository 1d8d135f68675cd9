"""Customer value, RFM, cohorts and cross-sell: the formulas, as SQL run by the recompute.

Every figure here is documented in docs/customer-value.md; the tests check them against a
hand-computed example. The recompute (``services.customer_value_recompute``) runs these
statements in one transaction over the current rollup generation's ``DealFact`` rows, whose
amounts were converted to BASE_CURRENCY by ``deals.money.RateBook`` (won deals at the rate
of their close date, open deals at today's).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from contacts.models import ValueSegment as S

# The RFM segment grid: rows are the recency score R (5 = bought most recently), columns the
# frequency-monetary score FM = round-half-up((F + M) / 2), 1 … 5.
SEGMENT_GRID: dict[int, tuple[str, str, str, str, str]] = {
    #    FM=1           FM=2            FM=3         FM=4          FM=5
    5: (S.NEW, S.POTENTIAL, S.POTENTIAL, S.CHAMPIONS, S.CHAMPIONS),
    4: (S.NEW, S.POTENTIAL, S.POTENTIAL, S.CHAMPIONS, S.CHAMPIONS),
    3: (S.HIBERNATING, S.POTENTIAL, S.LOYAL, S.LOYAL, S.LOYAL),
    2: (S.HIBERNATING, S.HIBERNATING, S.AT_RISK, S.AT_RISK, S.CANT_LOSE),
    1: (S.LOST, S.LOST, S.AT_RISK, S.AT_RISK, S.CANT_LOSE),
}
# Segments a manager should act on first, in the order the pages list them.
SEGMENT_ORDER = [S.CHAMPIONS, S.LOYAL, S.POTENTIAL, S.NEW, S.AT_RISK, S.CANT_LOSE, S.HIBERNATING, S.LOST]
AT_RISK_SEGMENTS = frozenset({S.AT_RISK, S.CANT_LOSE})
SEGMENT_ADVICE = {
    S.CHAMPIONS: _("Reward them; ask for referrals and reviews; offer new products first."),
    S.LOYAL: _("Upsell higher-value products; invite them to a loyalty or reference programme."),
    S.POTENTIAL: _("Offer a bundle or the products similar customers buy next."),
    S.NEW: _("Onboard them well; schedule a check-in and show what else they can buy."),
    S.AT_RISK: _("Call now: renewal offer, a discount on what they buy most, ask what changed."),
    S.CANT_LOSE: _("Top priority: senior contact and a personal offer before a competitor wins them."),
    S.HIBERNATING: _("Low-cost reactivation: newsletter, a relevant new product."),
    S.LOST: _("Win-back campaign only if cheap; otherwise let them go."),
}


def fm_score(f_score: int, m_score: int) -> int:
    """FM = (F + M) / 2 rounded half up."""
    return int((Decimal(f_score + m_score) / 2).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


# Service trouble (an open case that breached its SLA, or a low average satisfaction score)
# lowers the recency score of a customer worth keeping (FM 3 or more) to at most this, so it
# lands in "At risk" (FM 3–4) or "Can't lose" (FM 5) whatever it bought lately.
SERVICE_TROUBLE_MAX_R = 2
SERVICE_TROUBLE_MIN_FM = 3


def effective_r(r_score: int, f_score: int, m_score: int, *, service_trouble: bool = False) -> int:
    if service_trouble and fm_score(f_score, m_score) >= SERVICE_TROUBLE_MIN_FM:
        return min(r_score, SERVICE_TROUBLE_MAX_R)
    return r_score


def segment_for(r_score: int, f_score: int, m_score: int, *, service_trouble: bool = False) -> str:
    r = effective_r(r_score, f_score, m_score, service_trouble=service_trouble)
    return SEGMENT_GRID[r][fm_score(f_score, m_score) - 1]


def quintile_score(strictly_worse: int, customers: int) -> int:
    """Score 1–5: 1 + ⌊5 × (customers strictly worse) ÷ customers⌋; ties share a score."""
    return 1 + (5 * strictly_worse) // customers


def _segment_case() -> str:
    """The grid as a SQL CASE over ``r`` and ``fm`` (generated, so SQL and Python agree);
    ``service_trouble`` lowers R as ``effective_r`` does."""
    whens = " ".join(
        f"WHEN {r * 10 + fm} THEN '{segment}'"
        for r, row in SEGMENT_GRID.items()
        for fm, segment in enumerate(row, start=1)
    )
    fm = "(f_score + m_score + 1) / 2"
    r = (
        f"CASE WHEN service_trouble AND {fm} >= {SERVICE_TROUBLE_MIN_FM} "
        f"THEN LEAST(r_score, {SERVICE_TROUBLE_MAX_R}) ELSE r_score END"
    )
    return f"CASE ({r}) * 10 + {fm} {whens} END"


# 1. The deals the run reads, frozen in one statement (a consistent snapshot even if the
#    rollups switch generation meanwhile): won and open deals of active companies.
SNAPSHOT_DEALS = """
DROP TABLE IF EXISTS value_deals, value_baskets;
CREATE TEMP TABLE value_deals ON COMMIT DROP AS
SELECT f.deal_id, f.company_id, c.owner_id, f.status, f.amount_base, f.closed_at,
       (f.closed_at AT TIME ZONE %(tz)s)::date AS closed_on, f.closed_month, false AS external,
       0::numeric(16, 2) AS cost_base, 0::numeric(16, 2) AS cost_estimated
  FROM reports_dealfact f
  JOIN contacts_company c ON c.id = f.company_id AND c.archived_at IS NULL
 WHERE f.generation_id = (SELECT generation_id FROM reports_rolluppointer WHERE id = 1)
   AND f.status IN ('won', 'open');
"""
INDEX_DEALS = """
CREATE INDEX value_deals_company ON value_deals (company_id);
ANALYZE value_deals;
"""


# 1b. Revenue other systems report (``register_revenue_source``), into the same snapshot: a
#     revenue row is a purchase (status 'won') on its date, a refund row (status 'refund')
#     subtracts its amount (sent positive or negative) from the revenue figures and is no
#     purchase. Amounts are converted
#     like won deals: at the rate of the day it happened (the latest ExchangeRate on or
#     before it, else the earliest one; none → 0). A blank currency is the base currency.
#     Rows dated after the run's "now" are left out (no negative recency).
def revenue_source_insert_sql(source_sql: str) -> str:
    """The INSERT for one source; positional parameters: tz, tz, the source's own, base, tz, now."""
    return f"""
INSERT INTO value_deals (deal_id, company_id, owner_id, status, amount_base, closed_at, closed_on, closed_month,
                         external, cost_base, cost_estimated)
SELECT NULL, c.id, c.owner_id, CASE WHEN s.effect = 'refund' THEN 'refund' ELSE 'won' END,
       CASE WHEN s.effect = 'refund' THEN -abs(COALESCE(round(s.amount * r.rate, 2), 0.00))
            ELSE COALESCE(round(s.amount * r.rate, 2), 0.00) END,
       s.occurred_at, (s.occurred_at AT TIME ZONE %s)::date,
       date_trunc('month', s.occurred_at AT TIME ZONE %s)::date, true, 0, 0
  FROM ({source_sql}) AS s(company_id, occurred_at, amount, currency, effect)
  JOIN contacts_company c ON c.id = s.company_id AND c.archived_at IS NULL
  CROSS JOIN LATERAL (
    SELECT CASE WHEN s.currency = '' OR s.currency = %s THEN 1::numeric ELSE COALESCE(
        (SELECT e.rate FROM deals_exchangerate e
          WHERE e.currency = s.currency AND e.date <= (s.occurred_at AT TIME ZONE %s)::date
          ORDER BY e.date DESC LIMIT 1),
        (SELECT e.rate FROM deals_exchangerate e WHERE e.currency = s.currency ORDER BY e.date LIMIT 1)
    ) END AS rate
  ) r
 WHERE s.amount IS NOT NULL AND s.effect IN ('revenue', 'refund') AND s.occurred_at <= %s
"""  # noqa: S608 (the source's SQL comes from a registered queryset; values are bound parameters)


@dataclass(frozen=True)
class RevenueSource:
    key: str
    rows: Callable[[], QuerySet]


_REVENUE_SOURCES: dict[str, RevenueSource] = {}


def register_revenue_source(key: str, rows: Callable[[], QuerySet]) -> None:
    """Let a higher app's money count in customer value (reports never imports it).

    ``rows()`` returns a queryset of ``values_list(company_id, occurred_at, amount, currency,
    effect)`` with ``effect`` ``"revenue"`` or ``"refund"`` (other values are ignored); the
    recompute reads it inside its snapshot. Registering the same key again replaces it.
    """
    _REVENUE_SOURCES[key] = RevenueSource(key=key, rows=rows)


def revenue_sources() -> list[RevenueSource]:
    return list(_REVENUE_SOURCES.values())


def revenue_source_statements(
    *, tz: str, base: str, now: datetime, companies: list[int] | None = None
) -> list[tuple[str, list]]:
    """(SQL, params) that add every registered source's rows to ``value_deals`` (only those of
    ``companies`` when given); rows dated after ``now`` (a sender's scheduled invoice) wait
    until their day comes."""
    statements = []
    for source in revenue_sources():
        rows = source.rows()
        if companies is not None:
            rows = rows.filter(company_id__in=companies)
        source_sql, source_params = rows.query.sql_with_params()
        statements.append((revenue_source_insert_sql(source_sql), [tz, tz, *source_params, base, tz, now]))
    return statements


# Annual churn: of the customers who bought in the year before the last one, the share who
# did not buy in the last year.
CHURN = """
SELECT COUNT(*) AS earlier,
       COUNT(*) FILTER (WHERE NOT bought_last_year) AS churned
  FROM (SELECT company_id, BOOL_OR(closed_on > %(year_ago)s) AS bought_last_year
          FROM value_deals
         WHERE status = 'won' AND closed_on > %(two_years_ago)s
         GROUP BY company_id
        HAVING BOOL_OR(closed_on <= %(year_ago)s)) AS customers
"""

# Last done activity per company: logged on the company, else on one of its contacts, else
# on one of its deals (the same precedence the timeline uses).
LAST_ACTIVITY = """
SELECT COALESCE(a.company_id, ct.company_id, d.company_id) AS company_id, MAX(a.done_at) AS last_activity_at
  FROM activities_activity a
  LEFT JOIN contacts_contact ct ON ct.id = a.contact_id AND a.company_id IS NULL
  LEFT JOIN deals_deal d ON d.id = a.deal_id AND a.company_id IS NULL AND a.contact_id IS NULL
 WHERE a.done_at IS NOT NULL
 GROUP BY 1
"""

# 2. One row per customer: revenue by period, purchases, pipeline, RFM scores and segment,
#    lifetime value, dormancy.
INSERT_CUSTOMER_VALUE = f"""
INSERT INTO reports_customervalue (
    company_id, owner_id, revenue_total, revenue_this_year, revenue_12m, revenue_external, won_deals, first_won_on,
    last_won_on,
    cohort_month, average_deal, open_pipeline, open_deals, purchases_per_year, lifetime_value, last_activity_at,
    last_touch_at, is_dormant, frequency, monetary, recency_days, r_score, f_score, m_score, segment, quarters,
    breached_cases, csat_average, csat_ratings, service_risk)
WITH agg AS (
    SELECT company_id, MIN(owner_id) AS owner_id,
           COALESCE(SUM(amount_base) FILTER (WHERE status IN ('won', 'refund')), 0) AS revenue_total,
           COALESCE(SUM(amount_base) FILTER (WHERE status IN ('won', 'refund') AND closed_on >= %(year_start)s), 0)
               AS revenue_this_year,
           COALESCE(SUM(amount_base) FILTER (WHERE status IN ('won', 'refund') AND closed_on > %(year_ago)s), 0)
               AS revenue_12m,
           COALESCE(SUM(amount_base) FILTER (WHERE external AND status IN ('won', 'refund')), 0) AS revenue_external,
           COUNT(*) FILTER (WHERE status = 'won') AS won_deals,
           MIN(closed_on) FILTER (WHERE status = 'won') AS first_won_on,
           MAX(closed_on) FILTER (WHERE status = 'won') AS last_won_on,
           MAX(closed_at) FILTER (WHERE status = 'won') AS last_won_at,
           MIN(closed_month) FILTER (WHERE status = 'won') AS cohort_month,
           COALESCE(SUM(amount_base) FILTER (WHERE status = 'open'), 0) AS open_pipeline,
           COUNT(*) FILTER (WHERE status = 'open') AS open_deals,
           COUNT(*) FILTER (WHERE status = 'won' AND closed_on >= %(window_start)s) AS frequency,
           COALESCE(SUM(amount_base) FILTER (WHERE status IN ('won', 'refund') AND closed_on >= %(window_start)s), 0)
               AS monetary
      FROM value_deals GROUP BY company_id
), scored AS (
    SELECT company_id,
           1 + (5 * (RANK() OVER (ORDER BY last_won_on) - 1)) / COUNT(*) OVER () AS r_score,
           1 + (5 * (RANK() OVER (ORDER BY frequency) - 1)) / COUNT(*) OVER () AS f_score,
           1 + (5 * (RANK() OVER (ORDER BY monetary) - 1)) / COUNT(*) OVER () AS m_score
      FROM agg WHERE frequency > 0
), quarters AS (
    SELECT company_id, jsonb_object_agg(quarter, revenue) AS quarters
      FROM (SELECT company_id, to_char(date_trunc('quarter', closed_on), 'YYYY-MM-DD') AS quarter,
                   SUM(amount_base)::text AS revenue
              FROM value_deals WHERE status IN ('won', 'refund') GROUP BY 1, 2) AS q
     GROUP BY company_id
), service AS (
    SELECT company_id,
           COUNT(*) FILTER (WHERE status IN ('new', 'open', 'waiting') AND sla_breached) AS breached_cases,
           ROUND(AVG(csat_score) FILTER (WHERE csat_at > %(csat_since)s), 2) AS csat_average,
           COUNT(csat_score) FILTER (WHERE csat_at > %(csat_since)s) AS csat_ratings
      FROM service_case
     WHERE company_id IN (SELECT company_id FROM value_deals)
     GROUP BY company_id
), troubled AS (
    SELECT company_id, breached_cases, csat_average, csat_ratings,
           breached_cases > 0 OR COALESCE(csat_average <= %(low_csat)s, false) AS service_trouble
      FROM service
), touched AS (
    SELECT agg.*, la.last_activity_at,
           GREATEST(la.last_activity_at, agg.last_won_at) AS last_touch_at,
           ROUND(agg.won_deals / GREATEST((%(today)s - agg.first_won_on) / 365.25, 1), 3) AS purchases_per_year
      FROM agg LEFT JOIN ({LAST_ACTIVITY}) AS la USING (company_id)
)
SELECT t.company_id, t.owner_id, t.revenue_total, t.revenue_this_year, t.revenue_12m, t.revenue_external, t.won_deals,
       t.first_won_on,
       t.last_won_on, t.cohort_month,
       CASE WHEN t.won_deals > 0 THEN ROUND(t.revenue_total / t.won_deals, 2) END,
       t.open_pipeline, t.open_deals, COALESCE(t.purchases_per_year, 0),
       CASE WHEN t.won_deals > 0
            THEN ROUND(t.revenue_total / t.won_deals * t.purchases_per_year * %(lifespan)s, 2) ELSE 0 END,
       t.last_activity_at, t.last_touch_at,
       t.won_deals > 0 AND t.open_deals = 0 AND t.last_touch_at < %(dormant_before)s,
       t.frequency, t.monetary,
       CASE WHEN s.company_id IS NOT NULL THEN %(today)s - t.last_won_on END,
       s.r_score, s.f_score, s.m_score, COALESCE({_segment_case()}, ''),
       COALESCE(q.quarters, '{{}}'::jsonb),
       COALESCE(sv.breached_cases, 0), sv.csat_average, COALESCE(sv.csat_ratings, 0),
       COALESCE(sv.service_trouble, false)
  FROM touched t
  LEFT JOIN scored s USING (company_id)
  LEFT JOIN quarters q USING (company_id)
  LEFT JOIN troubled sv USING (company_id)
"""  # noqa: S608 (SQL names from model metadata and module constants; values are bound parameters)

# Per owner summaries the segments and dormant pages sum instead of scanning every customer.
INSERT_SEGMENT_CELLS = """
INSERT INTO reports_segmentcell (owner_id, segment, customers, revenue, lifetime_value)
SELECT owner_id, segment, COUNT(*), SUM(monetary), SUM(lifetime_value) FROM reports_customervalue GROUP BY 1, 2
"""
# Quiet for 90–180 days → 0, 6–12 months → 1, 1–2 years → 2, more → 3 (at the time of the run).
INSERT_DORMANT_CELLS = """
INSERT INTO reports_dormantcell (owner_id, bucket, customers, lifetime_value)
SELECT owner_id,
       CASE WHEN last_touch_at > %(now)s - interval '180 days' THEN 0
            WHEN last_touch_at > %(now)s - interval '365 days' THEN 1
            WHEN last_touch_at > %(now)s - interval '730 days' THEN 2 ELSE 3 END,
       COUNT(*), SUM(lifetime_value)
  FROM reports_customervalue WHERE is_dormant GROUP BY 1, 2
"""

# 3. Cohorts: per owner, first-purchase month and quarter after it (quarter k ≥ 1 covers
#    months 3k−2 … 3k after the first-purchase month; 0 is that month itself). A refund
#    lowers its quarter's revenue but does not make the customer one who bought then.
INSERT_COHORTS = """
INSERT INTO reports_cohortcell (owner_id, cohort_month, quarter, customers, revenue)
SELECT v.owner_id, v.cohort_month, per_company.quarter, COUNT(*) FILTER (WHERE per_company.bought),
       SUM(per_company.revenue)
  FROM (SELECT d.company_id,
               CEIL(((EXTRACT(YEAR FROM d.closed_month) - EXTRACT(YEAR FROM cv.cohort_month)) * 12
                     + EXTRACT(MONTH FROM d.closed_month) - EXTRACT(MONTH FROM cv.cohort_month)) / 3.0)::int
                   AS quarter,
               SUM(d.amount_base) AS revenue, BOOL_OR(d.status = 'won') AS bought
          FROM value_deals d JOIN reports_customervalue cv ON cv.company_id = d.company_id
         WHERE d.status IN ('won', 'refund') AND d.closed_month >= cv.cohort_month
         GROUP BY 1, 2) AS per_company
  JOIN reports_customervalue v ON v.company_id = per_company.company_id
 GROUP BY 1, 2, 3
"""

# 4. Cross-sell. A basket is a customer: every product on any of its won deals.
SNAPSHOT_BASKETS = """
CREATE TEMP TABLE value_baskets ON COMMIT DROP AS
SELECT DISTINCT d.company_id, d.owner_id, li.product_id
  FROM deals_lineitem li JOIN value_deals d ON d.deal_id = li.deal_id AND d.status = 'won';
CREATE INDEX value_baskets_company ON value_baskets (company_id, product_id);
ANALYZE value_baskets;
"""
INSERT_PRODUCT_CUSTOMERS = """
INSERT INTO reports_productcustomers (owner_id, product_id, customers)
SELECT owner_id, product_id, COUNT(*) FROM value_baskets GROUP BY 1, 2
UNION ALL
SELECT owner_id, NULL, COUNT(DISTINCT company_id) FROM value_baskets GROUP BY 1
"""
INSERT_PRODUCT_PAIRS = """
INSERT INTO reports_productpair (owner_id, product_a_id, product_b_id, customers)
SELECT a.owner_id, a.product_id, b.product_id, COUNT(*)
  FROM value_baskets a JOIN value_baskets b ON b.company_id = a.company_id AND b.product_id > a.product_id
 GROUP BY 1, 2, 3
"""
# Rules A → B over all customers, with at least %(min_customers)s customers buying both and
# lift above 1; each company gets up to 3 active products it has not bought, the best rule
# (highest confidence, then lift) for each, ranked the same way.
INSERT_SUGGESTIONS = """
INSERT INTO reports_crosssellsuggestion
    (company_id, rank, product_id, because_id, peer_group, confidence, lift, customers)
WITH total AS (SELECT COUNT(DISTINCT company_id) AS n FROM value_baskets),
bought AS (SELECT product_id, COUNT(*) AS customers FROM value_baskets GROUP BY 1),
pairs AS (SELECT product_a_id AS a, product_b_id AS b, SUM(customers) AS both_
            FROM reports_productpair GROUP BY 1, 2),
rules AS (
    SELECT r.antecedent, r.consequent, r.both_,
           r.both_::numeric / pa.customers AS confidence,
           r.both_::numeric * total.n / (pa.customers * pb.customers) AS lift
      FROM (SELECT a AS antecedent, b AS consequent, both_ FROM pairs
            UNION ALL SELECT b, a, both_ FROM pairs) AS r
      JOIN bought pa ON pa.product_id = r.antecedent
      JOIN bought pb ON pb.product_id = r.consequent
      JOIN deals_product p ON p.id = r.consequent AND p.active
      CROSS JOIN total
     WHERE r.both_ >= %(min_customers)s
),
candidates AS (
    SELECT b.company_id, r.consequent, r.antecedent, r.confidence, r.lift, r.both_,
           ROW_NUMBER() OVER (PARTITION BY b.company_id, r.consequent
                              ORDER BY r.confidence DESC, r.lift DESC, r.antecedent) AS best
      FROM value_baskets b JOIN rules r ON r.antecedent = b.product_id
     WHERE r.lift > 1
       AND NOT EXISTS (SELECT 1 FROM value_baskets o WHERE o.company_id = b.company_id AND o.product_id = r.consequent)
),
ranked AS (
    SELECT *, ROW_NUMBER() OVER (PARTITION BY company_id ORDER BY confidence DESC, lift DESC, consequent) AS rank
      FROM candidates WHERE best = 1
)
SELECT company_id, rank, consequent, antecedent, '', ROUND(confidence, 4), ROUND(lift, 3), both_
  FROM ranked WHERE rank <= 3
"""

# Customers no rule gives a suggestion (e.g. they bought without catalogue products): the
# products most of their industry peers bought (all customers when the industry is blank),
# at least %(min_customers)s peers and 15 % of them; confidence = peers who bought it ÷ peers with products,
# lift = that ÷ the share of all customers with products who bought it.
INSERT_PEER_SUGGESTIONS = """
INSERT INTO reports_crosssellsuggestion
    (company_id, rank, product_id, because_id, peer_group, confidence, lift, customers)
WITH basket_peers AS (
    SELECT b.company_id, b.product_id, COALESCE(NULLIF(c.industry, ''), '*') AS peer_group
      FROM value_baskets b JOIN contacts_company c ON c.id = b.company_id
), groups AS (
    SELECT peer_group, product_id, COUNT(*) AS buyers FROM basket_peers WHERE peer_group <> '*' GROUP BY 1, 2
    UNION ALL
    SELECT '*', product_id, COUNT(*) FROM basket_peers GROUP BY 2
), group_size AS (
    SELECT peer_group, COUNT(DISTINCT company_id) AS n FROM basket_peers WHERE peer_group <> '*' GROUP BY 1
    UNION ALL
    SELECT '*', COUNT(DISTINCT company_id) FROM basket_peers
), overall AS (
    SELECT g.product_id, g.buyers::numeric / s.n AS share
      FROM groups g JOIN group_size s ON s.peer_group = g.peer_group WHERE g.peer_group = '*'
), customers AS (
    SELECT cv.company_id, COALESCE(NULLIF(c.industry, ''), '*') AS peer_group
      FROM reports_customervalue cv JOIN contacts_company c ON c.id = cv.company_id
     WHERE cv.won_deals > 0
       AND NOT EXISTS (SELECT 1 FROM reports_crosssellsuggestion s WHERE s.company_id = cv.company_id)
), candidates AS (
    SELECT cu.company_id, g.product_id, cu.peer_group, g.buyers, g.buyers::numeric / s.n AS confidence,
           g.buyers::numeric / s.n / o.share AS lift,
           ROW_NUMBER() OVER (PARTITION BY cu.company_id
                              ORDER BY g.buyers::numeric / s.n DESC, g.buyers DESC, g.product_id) AS rank
      FROM customers cu
      JOIN groups g ON g.peer_group = cu.peer_group
      JOIN group_size s ON s.peer_group = cu.peer_group
      JOIN overall o ON o.product_id = g.product_id
      JOIN deals_product p ON p.id = g.product_id AND p.active
     WHERE g.buyers >= %(min_customers)s AND g.buyers::numeric / s.n >= 0.15
       AND NOT EXISTS (SELECT 1 FROM value_baskets o2
                        WHERE o2.company_id = cu.company_id AND o2.product_id = g.product_id)
)
SELECT company_id, rank, product_id, NULL, peer_group, ROUND(confidence, 4), ROUND(lift, 3), buyers
  FROM candidates WHERE rank <= 3
"""

# 5. The segment onto the company, for the company list filter (contacts never imports reports).
UPDATE_COMPANY_SEGMENTS = """
UPDATE contacts_company c SET value_segment = v.segment
  FROM reports_customervalue v
 WHERE v.company_id = c.id AND c.value_segment <> v.segment;
UPDATE contacts_company c SET value_segment = ''
 WHERE c.value_segment <> ''
   AND NOT EXISTS (SELECT 1 FROM reports_customervalue v WHERE v.company_id = c.id AND v.segment <> '');
"""


# 6. One or a few customers again, between full runs (after another system reported revenue
#    for them): the same snapshot and INSERT restricted to ``%(companies)s``. The last done
#    activity comes from three indexed look-ups per company instead of the aggregate over
#    every activity. The caller keeps the RFM scores and segment of the last full run: they
#    rank a customer among all customers, which a partial run cannot.
SNAPSHOT_COMPANY_DEALS = SNAPSHOT_DEALS.replace(
    "AND f.status IN ('won', 'open');", "AND f.status IN ('won', 'open') AND f.company_id = ANY(%(companies)s);"
)
LAST_ACTIVITY_OF_COMPANIES = """
SELECT c.id AS company_id, GREATEST(
    (SELECT MAX(a.done_at) FROM activities_activity a WHERE a.company_id = c.id),
    (SELECT MAX(a.done_at) FROM activities_activity a JOIN contacts_contact ct ON ct.id = a.contact_id
      WHERE ct.company_id = c.id AND a.company_id IS NULL),
    (SELECT MAX(a.done_at) FROM activities_activity a JOIN deals_deal d ON d.id = a.deal_id
      WHERE d.company_id = c.id AND a.company_id IS NULL AND a.contact_id IS NULL)
) AS last_activity_at
  FROM contacts_company c WHERE c.id = ANY(%(companies)s)
"""
INSERT_COMPANY_VALUES = INSERT_CUSTOMER_VALUE.replace(LAST_ACTIVITY, LAST_ACTIVITY_OF_COMPANIES)

# The refreshed customers' segments onto their companies, and the segment counts of owners
# whose customers changed segment (service trouble moves a customer between full runs).
UPDATE_SEGMENTS_OF_COMPANIES = """
UPDATE contacts_company c SET value_segment = COALESCE(v.segment, '')
  FROM contacts_company c2 LEFT JOIN reports_customervalue v ON v.company_id = c2.id
 WHERE c.id = c2.id AND c.id = ANY(%(companies)s) AND c.value_segment <> COALESCE(v.segment, '');
"""
REWRITE_SEGMENT_CELLS_OF_OWNERS = """
DELETE FROM reports_segmentcell WHERE owner_id = ANY(%(owners)s);
INSERT INTO reports_segmentcell (owner_id, segment, customers, revenue, lifetime_value)
SELECT owner_id, segment, COUNT(*), SUM(monetary), SUM(lifetime_value)
  FROM reports_customervalue WHERE owner_id = ANY(%(owners)s) GROUP BY 1, 2;
"""

# Profitability ---------------------------------------------------------------------------
# Customer profitability = gross margin − cost to serve − acquisition cost, per customer and
# period ("12m": the last 365 days, as revenue_12m; "all": all time). docs/customer-value.md,
# "Profitability", defines every figure; the test checks them against a hand-computed example.

# RFM monetary from the margin instead of the revenue (setting RFM_MONETARY = "margin").
_MONETARY_REVENUE = (
    "COALESCE(SUM(amount_base) FILTER (WHERE status IN ('won', 'refund') AND closed_on >= %(window_start)s), 0)\n"
    "               AS monetary"
)
_MONETARY_MARGIN = (
    "COALESCE(SUM(amount_base - cost_base) FILTER (WHERE status IN ('won', 'refund') "
    "AND closed_on >= %(window_start)s), 0)\n               AS monetary"
)
assert _MONETARY_REVENUE in INSERT_CUSTOMER_VALUE  # noqa: S101 (a typo here would silently change nothing)


def customer_value_sql(sql: str, *, monetary: str) -> str:
    """``INSERT_CUSTOMER_VALUE`` (or its one-company form) with M from ``monetary``: "revenue" or
    "margin"; the full form reads the last activities from ``value_activity`` (SNAPSHOT_ACTIVITY)."""
    sql = sql.replace(LAST_ACTIVITY, LAST_ACTIVITY_FROM_SNAPSHOT)
    return sql.replace(_MONETARY_REVENUE, _MONETARY_MARGIN) if monetary == "margin" else sql


# 7. Cost of sales of every won deal in the snapshot, in the base currency at the rate of its
#    close date (as its revenue): Σ quantity × unit cost of its line items when every line item
#    has a cost (the snapshot taken when it was sold); otherwise the deal's revenue ×
#    (100 − its pipeline's default margin %) ÷ 100, recorded as estimated.
COST_OF_SALES = """
UPDATE value_deals v SET cost_base = x.cost_base, cost_estimated = x.cost_estimated
  FROM (
    SELECT v.deal_id,
           CASE WHEN li.known THEN COALESCE(round(li.cost * r.rate, 2), 0.00)
                ELSE round(v.amount_base * (100 - p.default_margin_percent) / 100, 2) END AS cost_base,
           CASE WHEN li.known THEN 0.00
                ELSE round(v.amount_base * (100 - p.default_margin_percent) / 100, 2) END AS cost_estimated
      FROM value_deals v
      JOIN deals_deal d ON d.id = v.deal_id
      JOIN deals_pipeline p ON p.id = d.pipeline_id
      CROSS JOIN LATERAL (
        SELECT COALESCE(bool_and(l.unit_cost IS NOT NULL), false) AS known,
               SUM(round(l.quantity * l.unit_cost, 2)) AS cost
          FROM deals_lineitem l WHERE l.deal_id = v.deal_id
      ) li
      CROSS JOIN LATERAL (
        SELECT CASE WHEN d.currency = %(base)s OR NOT li.known THEN 1::numeric ELSE COALESCE(
            (SELECT e.rate FROM deals_exchangerate e
              WHERE e.currency = d.currency AND e.date <= v.closed_on ORDER BY e.date DESC LIMIT 1),
            (SELECT e.rate FROM deals_exchangerate e WHERE e.currency = d.currency ORDER BY e.date LIMIT 1)
        ) END AS rate
      ) r
     WHERE v.status = 'won' AND NOT v.external
  ) x
 WHERE v.deal_id = x.deal_id AND v.status = 'won' AND NOT v.external
"""

_ACTIVITY_MINUTES = "COALESCE(a.time_spent_minutes, t.default_minutes)"
_ACTIVITY_FROM = """
  FROM activities_activity a
  JOIN activities_activitytype t ON t.id = a.type_id
  JOIN crm_user u ON u.id = a.owner_id
  LEFT JOIN crm_rolecost rc ON rc.role = u.role
  LEFT JOIN contacts_contact ct ON ct.id = a.contact_id AND a.company_id IS NULL
  LEFT JOIN deals_deal d ON d.id = a.deal_id AND a.company_id IS NULL AND a.contact_id IS NULL
"""
_CASES = """
SELECT k.company_id, 'case', (k.created_at AT TIME ZONE %(tz)s)::date > %(year_ago)s,
       SUM(k.time_spent_minutes)::bigint, SUM(k.time_spent_minutes * COALESCE(rc.hourly_cost, 0))::numeric
  FROM service_case k
  LEFT JOIN crm_user u ON u.id = k.assignee_id
  LEFT JOIN crm_rolecost rc ON rc.role = COALESCE(u.role, 'rep')
 WHERE k.company_id IS NOT NULL AND k.time_spent_minutes > 0 AND k.created_at <= %(now)s {case_filter}
 GROUP BY 1, 2, 3
"""
# The full run reads every done activity once: its last done activity per company (dormancy,
# the LAST_ACTIVITY of INSERT_CUSTOMER_VALUE) and its time and cost, recent and older.
SNAPSHOT_ACTIVITY = f"""
DROP TABLE IF EXISTS value_activity;
CREATE TEMP TABLE value_activity ON COMMIT DROP AS
SELECT COALESCE(a.company_id, ct.company_id, d.company_id) AS company_id, MAX(a.done_at) AS last_activity_at,
       COALESCE(SUM({_ACTIVITY_MINUTES}) FILTER (WHERE a.done_at <= %(now)s
           AND (a.done_at AT TIME ZONE %(tz)s)::date > %(year_ago)s), 0)::bigint AS minutes_recent,
       COALESCE(SUM({_ACTIVITY_MINUTES} * COALESCE(rc.hourly_cost, 0)) FILTER (WHERE a.done_at <= %(now)s
           AND (a.done_at AT TIME ZONE %(tz)s)::date > %(year_ago)s), 0)::numeric AS cost_recent,
       COALESCE(SUM({_ACTIVITY_MINUTES}) FILTER (WHERE a.done_at <= %(now)s
           AND (a.done_at AT TIME ZONE %(tz)s)::date <= %(year_ago)s), 0)::bigint AS minutes_older,
       COALESCE(SUM({_ACTIVITY_MINUTES} * COALESCE(rc.hourly_cost, 0)) FILTER (WHERE a.done_at <= %(now)s
           AND (a.done_at AT TIME ZONE %(tz)s)::date <= %(year_ago)s), 0)::numeric AS cost_older
{_ACTIVITY_FROM}
 WHERE a.done_at IS NOT NULL
 GROUP BY 1;
"""
LAST_ACTIVITY_FROM_SNAPSHOT = "SELECT company_id, last_activity_at FROM value_activity WHERE company_id IS NOT NULL"

# 8. Cost to serve, summed per customer, kind and "in the last 12 months": done activities
#    (logged on the company, else its contact, else its deal — as the last activity) and cases,
#    each minutes × the hourly cost of the role of the person doing it (the activity's assignee,
#    the case's assignee; a case without one at the rep's rate); ``cost`` holds minutes × hourly
#    cost (÷ 60 when summed). Minutes: the activity's time spent, else its type's default.
SERVICE_ALL = f"""
DROP TABLE IF EXISTS value_service;
CREATE TEMP TABLE value_service ON COMMIT DROP AS
SELECT company_id, 'activity'::text AS kind, true AS recent, minutes_recent AS minutes, cost_recent AS cost
  FROM value_activity WHERE company_id IS NOT NULL AND minutes_recent > 0
UNION ALL
SELECT company_id, 'activity', false, minutes_older, cost_older
  FROM value_activity WHERE company_id IS NOT NULL AND minutes_older > 0
UNION ALL
{_CASES.format(case_filter="")};
"""  # noqa: S608 (module constants; values are bound parameters)
# One or a few customers (the refresh): their activities through the indexes — logged on the
# company, on one of its contacts, on one of its deals (three indexed branches, not an OR over
# the joins, which would read every activity).
SERVICE_OF_COMPANIES = f"""
DROP TABLE IF EXISTS value_service;
CREATE TEMP TABLE value_service ON COMMIT DROP AS
SELECT a.company_id, 'activity'::text AS kind,
       (a.done_at AT TIME ZONE %(tz)s)::date > %(year_ago)s AS recent,
       SUM({_ACTIVITY_MINUTES})::bigint AS minutes,
       SUM({_ACTIVITY_MINUTES} * COALESCE(rc.hourly_cost, 0))::numeric AS cost
  FROM (SELECT x.company_id, x.done_at, x.time_spent_minutes, x.type_id, x.owner_id FROM activities_activity x
         WHERE x.company_id = ANY(%(companies)s) AND x.done_at IS NOT NULL
        UNION ALL
        SELECT ct.company_id, x.done_at, x.time_spent_minutes, x.type_id, x.owner_id
          FROM contacts_contact ct JOIN activities_activity x ON x.contact_id = ct.id AND x.company_id IS NULL
         WHERE ct.company_id = ANY(%(companies)s) AND x.done_at IS NOT NULL
        UNION ALL
        SELECT d.company_id, x.done_at, x.time_spent_minutes, x.type_id, x.owner_id
          FROM deals_deal d
          JOIN activities_activity x ON x.deal_id = d.id AND x.company_id IS NULL AND x.contact_id IS NULL
         WHERE d.company_id = ANY(%(companies)s) AND x.done_at IS NOT NULL) a
  JOIN activities_activitytype t ON t.id = a.type_id
  JOIN crm_user u ON u.id = a.owner_id
  LEFT JOIN crm_rolecost rc ON rc.role = u.role
 WHERE a.done_at <= %(now)s AND {_ACTIVITY_MINUTES} > 0
 GROUP BY 1, 2, 3
UNION ALL
{_CASES.format(case_filter="AND k.company_id = ANY(%(companies)s)")};
"""  # noqa: S608 (module constants; values are bound parameters)


# 8b. Costs other systems report (a registered source's rows with effect "cost": a shipping
#     bill, an outsourced support invoice), converted at the rate of their day like revenue.
def cost_source_insert_sql(source_sql: str) -> str:
    """The INSERT for one source's cost rows; positional parameters: tz, year ago, the source's own, base, tz, now."""
    return f"""
INSERT INTO value_service (company_id, kind, recent, minutes, cost)
SELECT s.company_id, 'external', (s.occurred_at AT TIME ZONE %s)::date > %s, 0,
       SUM(COALESCE(round(abs(s.amount) * r.rate, 2), 0.00))
  FROM ({source_sql}) AS s(company_id, occurred_at, amount, currency, effect)
  CROSS JOIN LATERAL (
    SELECT CASE WHEN s.currency = '' OR s.currency = %s THEN 1::numeric ELSE COALESCE(
        (SELECT e.rate FROM deals_exchangerate e
          WHERE e.currency = s.currency AND e.date <= (s.occurred_at AT TIME ZONE %s)::date
          ORDER BY e.date DESC LIMIT 1),
        (SELECT e.rate FROM deals_exchangerate e WHERE e.currency = s.currency ORDER BY e.date LIMIT 1)
    ) END AS rate
  ) r
 WHERE s.amount IS NOT NULL AND s.effect = 'cost' AND s.company_id IS NOT NULL AND s.occurred_at <= %s
 GROUP BY 1, 2, 3
"""  # noqa: S608 (the source's SQL comes from a registered queryset; values are bound parameters)


def cost_source_statements(
    *, tz: str, base: str, now: datetime, year_ago: date, companies: list[int] | None = None
) -> list[tuple[str, list]]:
    """(SQL, params) adding every registered revenue source's cost rows to ``value_service``."""
    statements = []
    for source in revenue_sources():
        rows = source.rows()
        if companies is not None:
            rows = rows.filter(company_id__in=companies)
        source_sql, source_params = rows.query.sql_with_params()
        statements.append((cost_source_insert_sql(source_sql), [tz, year_ago, *source_params, base, tz, now]))
    return statements


# 9. Acquisition cost: what it cost to win each customer (a campaign's cost spread over the
#    customers it acquired), from sources other apps register; reports never imports them.
class AcquisitionCostSource(Protocol):
    def __call__(self, *, start: date | None, end: date, company_ids: list[int] | None) -> Mapping[int, Decimal]: ...


_ACQUISITION_SOURCES: dict[str, AcquisitionCostSource] = {}


def register_acquisition_cost_source(key: str, source: AcquisitionCostSource) -> None:
    """Let a higher app (campaigns) charge customers what it cost to acquire them.

    ``source(start=…, end=…, company_ids=…)`` returns ``{company_id: cost}`` in BASE_CURRENCY
    (a Decimal, rounded to the cent) for the customers acquired between ``start`` (exclusive;
    None = since ever) and ``end`` (inclusive), only those in ``company_ids`` when it is not
    None. A company may be missing (no acquisition cost); costs of several sources add up.
    It runs inside the recompute's transaction and must only read. Registering the same key
    again replaces it. See docs/customer-value.md, "Acquisition cost".
    """
    _ACQUISITION_SOURCES[key] = source


def unregister_acquisition_cost_source(key: str) -> None:
    _ACQUISITION_SOURCES.pop(key, None)


def acquisition_costs(*, start: date | None, end: date, company_ids: list[int] | None) -> dict[int, Decimal]:
    """Every registered source's costs, added up per company."""
    totals: dict[int, Decimal] = {}
    for source in list(_ACQUISITION_SOURCES.values()):
        for company_id, cost in source(start=start, end=end, company_ids=company_ids).items():
            if cost:
                totals[int(company_id)] = totals.get(int(company_id), Decimal("0")) + Decimal(cost).quantize(
                    Decimal("0.01"), rounding=ROUND_HALF_UP
                )
    return totals


SNAPSHOT_ACQUISITION = """
DROP TABLE IF EXISTS value_acquisition;
CREATE TEMP TABLE value_acquisition (company_id int, period text, cost numeric(16, 2)) ON COMMIT DROP;
"""
INSERT_ACQUISITION = """
INSERT INTO value_acquisition (company_id, period, cost)
SELECT unnest(%(ids)s::int[]), %(period)s, unnest(%(costs)s::numeric[])
"""

PROFIT_GROUP_ADVICE = {
    "unprofitable_large": _(
        "Re-price: review discounts and the products they buy; move their service to cheaper channels "
        "(self-service, pooled support) or charge for it; agree a minimum margin before the next deal."
    ),
    "profitable_small": _(
        "Grow them: a named account owner, cross-sell what similar customers buy, and invest in their "
        "service — every extra sale keeps its margin."
    ),
}

# Large customers: the top LARGE_SHARE of the period's customers by revenue; small: the bottom
# SMALL_SHARE. A small customer is "worth growing" when its profit is at least
# GROWTH_MIN_PROFIT_PERCENT of its revenue.
LARGE_SHARE = Decimal("0.2")
SMALL_SHARE = Decimal("0.5")
GROWTH_MIN_PROFIT_PERCENT = Decimal("30")

# 10. The profitability rows, for the customers ``reports_customervalue`` holds (both periods).
INSERT_CUSTOMER_PROFIT = """
INSERT INTO reports_customerprofit (
    company_id, period, owner_id, revenue, cost_of_sales, estimated_cost, gross_margin, service_minutes,
    activity_cost, case_cost, external_cost, service_cost, acquisition_cost, profit, profit_rank, "group")
WITH periods(period, recent_only) AS (VALUES ('12m', true), ('all', false)),
customers AS (
    SELECT cv.company_id, cv.owner_id, p.period, p.recent_only
      FROM reports_customervalue cv CROSS JOIN periods p {customer_filter}
), sales AS (
    SELECT c.company_id, c.period,
           COALESCE(SUM(v.amount_base) FILTER (WHERE v.status IN ('won', 'refund')), 0) AS revenue,
           COALESCE(SUM(v.cost_base) FILTER (WHERE v.status = 'won'), 0) AS cost_of_sales,
           COALESCE(SUM(v.cost_estimated) FILTER (WHERE v.status = 'won'), 0) AS estimated_cost
      FROM customers c
      JOIN value_deals v ON v.company_id = c.company_id AND (NOT c.recent_only OR v.closed_on > %(year_ago)s)
     GROUP BY 1, 2
), service AS (
    SELECT c.company_id, c.period,
           SUM(s.minutes) FILTER (WHERE s.kind <> 'external') AS minutes,
           round(COALESCE(SUM(s.cost) FILTER (WHERE s.kind = 'activity'), 0) / 60, 2) AS activity_cost,
           round(COALESCE(SUM(s.cost) FILTER (WHERE s.kind = 'case'), 0) / 60, 2) AS case_cost,
           COALESCE(SUM(s.cost) FILTER (WHERE s.kind = 'external'), 0) AS external_cost
      FROM customers c
      JOIN value_service s ON s.company_id = c.company_id AND (NOT c.recent_only OR s.recent)
     GROUP BY 1, 2
), acquisition AS (
    SELECT company_id, period, SUM(cost) AS cost FROM value_acquisition GROUP BY 1, 2
), figures AS (
    SELECT c.company_id, c.period, c.owner_id,
           COALESCE(sa.revenue, 0) AS revenue, COALESCE(sa.cost_of_sales, 0) AS cost_of_sales,
           COALESCE(sa.estimated_cost, 0) AS estimated_cost,
           COALESCE(sa.revenue, 0) - COALESCE(sa.cost_of_sales, 0) AS gross_margin,
           COALESCE(se.minutes, 0) AS minutes, COALESCE(se.activity_cost, 0) AS activity_cost,
           COALESCE(se.case_cost, 0) AS case_cost, COALESCE(se.external_cost, 0) AS external_cost,
           COALESCE(se.activity_cost, 0) + COALESCE(se.case_cost, 0) + COALESCE(se.external_cost, 0) AS service_cost,
           COALESCE(a.cost, 0) AS acquisition_cost
      FROM customers c
      LEFT JOIN sales sa ON sa.company_id = c.company_id AND sa.period = c.period
      LEFT JOIN service se ON se.company_id = c.company_id AND se.period = c.period
      LEFT JOIN acquisition a ON a.company_id = c.company_id AND a.period = c.period
), profits AS (
    SELECT f.*, f.gross_margin - f.service_cost - f.acquisition_cost AS profit FROM figures f
), ranked AS (
    SELECT p.*,
           ROW_NUMBER() OVER (PARTITION BY period ORDER BY profit DESC, company_id) AS profit_rank,
           ROW_NUMBER() OVER (PARTITION BY period ORDER BY revenue DESC, company_id) AS revenue_rank,
           COUNT(*) OVER (PARTITION BY period) AS customers
      FROM profits p
)
SELECT company_id, period, owner_id, revenue, cost_of_sales, estimated_cost, gross_margin, minutes,
       activity_cost, case_cost, external_cost, service_cost, acquisition_cost, profit, profit_rank,
       CASE WHEN profit < 0 AND revenue > 0 AND revenue_rank <= CEIL(customers * %(large_share)s)
                THEN 'unprofitable_large'
            WHEN profit > 0 AND revenue > 0 AND revenue_rank > FLOOR(customers * (1 - %(small_share)s))
                 AND profit * 100 >= revenue * %(growth_min_percent)s
                THEN 'profitable_small'
            ELSE '' END
  FROM ranked
"""
INSERT_ALL_PROFITS = INSERT_CUSTOMER_PROFIT.format(customer_filter="")
INSERT_COMPANY_PROFITS = INSERT_CUSTOMER_PROFIT.format(customer_filter="WHERE cv.company_id = ANY(%(companies)s)")

# 11. Per-owner rollups of the profitability rows: totals (ProfitCell) and the whale curve's
#     slices (ProfitBucket: WHALE_SLICES slices of the company-wide ranking, each split where
#     profit turns from positive to not, so the curve's peak is exact).
WHALE_SLICES = 200
INSERT_PROFIT_CELLS = """
INSERT INTO reports_profitcell (owner_id, period, customers, revenue, gross_margin, service_cost, acquisition_cost,
                                profit, unprofitable, unprofitable_loss, profitable)
SELECT owner_id, period, COUNT(*), SUM(revenue), SUM(gross_margin), SUM(service_cost), SUM(acquisition_cost),
       SUM(profit), COUNT(*) FILTER (WHERE profit < 0), COALESCE(-SUM(profit) FILTER (WHERE profit < 0), 0),
       COUNT(*) FILTER (WHERE profit > 0)
  FROM reports_customerprofit GROUP BY 1, 2
"""
INSERT_PROFIT_BUCKETS = """
INSERT INTO reports_profitbucket (owner_id, period, bucket, customers, profit)
SELECT owner_id, period,
       ((profit_rank - 1) * %(slices)s / n) * 2 + CASE WHEN profit > 0 THEN 0 ELSE 1 END,
       COUNT(*), SUM(profit)
  FROM (SELECT owner_id, period, profit_rank, profit, COUNT(*) OVER (PARTITION BY period) AS n
          FROM reports_customerprofit) AS ranked
 GROUP BY 1, 2, 3
"""
