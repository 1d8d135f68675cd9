"""Customer value, RFM, cohorts and cross-sell against the hand-computed example in conftest.

Quintile scores: score = 1 + ⌊5 × k ÷ n⌋ with k = customers strictly worse, n = 6 scored
customers (A–E and Z; F bought before the window): k 0 → 1, 1 → 1, 2 → 2, 3 → 3, 4 → 4, 5 → 5.

    recency (last purchase, oldest first): D 08-10 k0→1, C 12-15 k1→1, B 05-01 k2→2,
        E 06-01 k3→3, Z 06-10 k4→4, A 06-20 k5→5
    frequency (won deals in window): B, D, Z = 1 → k0 → 1; C, E = 2 → k3 → 3; A = 3 → k5 → 5
    monetary: B 500 k0→1, D 700 k1→1, A 6000 k2→2, C 8000 k3→3, Z 9999 k4→4, E 11000 k5→5
    FM = round-half-up((F+M)/2): A (5+2)/2=3.5→4, B 1, C 3, D 1, E (3+5)/2=4, Z (1+4)/2=2.5→3
    segments from the grid: A R5 FM4 Champions; B R2 FM1 Hibernating; C R1 FM3 At risk;
        D R1 FM1 Lost; E R3 FM4 Loyal; Z R4 FM3 Potential loyalists
"""

import datetime as dt
from decimal import Decimal

import pytest

from contacts.models import ValueSegment as S
from reports import selectors, value
from reports.models import CrossSellSuggestion, CustomerValue, ValueRun
from reports.scope import ReportScope
from reports.services import customer_value_recompute, lifespan_from_churn
from reports.tests.conftest import VALUE_NOW


def _row(data, name: str) -> CustomerValue:
    return CustomerValue.objects.get(company=data["companies"][name])


def test_rfm_scores_and_segments_match_the_hand_computed_example(value_built):
    got = {
        name: (row.r_score, row.f_score, row.m_score, row.segment)
        for name in "ABCDEZ"
        for row in [_row(value_built, name)]
    }
    assert got == {
        "A": (5, 5, 2, S.CHAMPIONS),
        "B": (2, 1, 1, S.HIBERNATING),
        "C": (1, 3, 3, S.AT_RISK),
        "D": (1, 1, 1, S.LOST),
        "E": (3, 3, 5, S.LOYAL),
        "Z": (4, 1, 4, S.POTENTIAL),
    }
    f = _row(value_built, "F")
    assert (f.r_score, f.segment, f.frequency) == (None, "", 0)  # bought only before the window


def test_the_segment_is_written_onto_the_company(value_built):
    company = value_built["companies"]["C"]
    company.refresh_from_db()
    assert company.value_segment == S.AT_RISK
    value_built["companies"]["F"].refresh_from_db()
    assert value_built["companies"]["F"].value_segment == ""


def test_revenue_purchases_and_pipeline_per_period(value_built):
    a = _row(value_built, "A")
    # This year from 2026-01-01: 2000 + 1000; last 12 months after 2025-06-30: all three.
    assert (a.revenue_total, a.revenue_this_year, a.revenue_12m) == (Decimal("6000"), Decimal("3000"), Decimal("6000"))
    assert (a.won_deals, a.first_won_on, a.last_won_on) == (3, dt.date(2025, 9, 1), dt.date(2026, 6, 20))
    assert a.average_deal == Decimal("2000.00")
    assert a.recency_days == 10
    f = _row(value_built, "F")
    assert (f.open_pipeline, f.open_deals, f.revenue_12m) == (Decimal("2000.00"), 1, Decimal("0"))


def test_lifetime_value_is_average_deal_times_purchases_per_year_times_lifespan(value_built):
    # Lifespan = 3 years (setting). Purchases per year = won deals ÷ max(years since first, 1).
    # A: 2000 × (3 ÷ 1) × 3 = 18,000 (first purchase 302 days ago counts as one year)
    # C: 4000 × 2 × 3 = 24,000;  E: 5500 × 2 × 3 = 33,000;  B: 500 × 1 × 3 = 1,500
    # F: first purchase 851 days ago = 2.3299 years → 1 ÷ 2.3299 = 0.429 a year → 5000 × 0.429 × 3 = 6,435
    ltv = {name: _row(value_built, name).lifetime_value for name in "ABCEF"}
    assert ltv == {
        "A": Decimal("18000.00"),
        "B": Decimal("1500.00"),
        "C": Decimal("24000.00"),
        "E": Decimal("33000.00"),
        "F": Decimal("6435.00"),
    }
    assert _row(value_built, "F").purchases_per_year == Decimal("0.429")
    run = ValueRun.objects.get()
    assert (run.lifespan_years, run.churn_rate, run.customers, run.scored) == (Decimal("3.00"), None, 7, 6)


def test_lifespan_comes_from_observed_churn_once_enough_customers_can_be_observed(settings):
    settings.CHURN_MIN_CUSTOMERS = 20
    settings.CUSTOMER_LIFESPAN_YEARS = 3
    settings.CUSTOMER_LIFESPAN_MAX_YEARS = 10
    assert lifespan_from_churn(earlier=19, churned=5) == (None, Decimal("3"))
    assert lifespan_from_churn(earlier=40, churned=10) == (Decimal("0.2500"), Decimal("4.00"))  # 1 ÷ 0.25
    assert lifespan_from_churn(earlier=40, churned=0) == (Decimal("0"), Decimal("10.00"))  # capped
    assert lifespan_from_churn(earlier=20, churned=20) == (Decimal("1.0000"), Decimal("1.00"))


def test_dormancy_counts_activity_through_contacts_and_open_deals(value_built):
    # Cut-off 2026-04-01 12:00. C: last touch 2025-12-15 → dormant. D: its contact's call on
    # 2026-05-15 keeps it awake. F: an open deal. A, B, E, Z: recent purchases.
    dormant = set(CustomerValue.objects.filter(is_dormant=True).values_list("company__name", flat=True))
    assert dormant == {"Customer C"}
    assert _row(value_built, "D").last_activity_at == dt.datetime(2026, 5, 15, 10, tzinfo=dt.UTC)


def _scope(user, start=dt.date(2025, 1, 1), end=dt.date(2026, 6, 1)):
    return ReportScope(user=user, allowed_owner_ids=None, owners=[], teams=[], pipelines=[], start=start, end=end)


def test_cohort_shares_and_revenue_retention(value_built, admin_user):
    # Cohort 2025-09: A (3000 in Sep) and C (4000 in Sep): size 2, first-month revenue 7000.
    # C 2025-12 = 3 months later → Q1; A 2026-03 = 6 months → Q2; A 2026-06 = 9 months → Q3.
    # Q1: 1 of 2 = 50 %, 4000 ÷ 7000 = 57.1 %; Q2: 50 %, 2000 ÷ 7000 = 28.6 %; Q3: 50 %, 14.3 %.
    # Q4 starts 10 months later (2026-07): not reached on 2026-06-30.
    report = selectors.cohort_report(_scope(admin_user), today=VALUE_NOW.date())
    row = next(row for row in report.rows if row.month == dt.date(2025, 9, 1))
    assert (row.size, row.first_revenue) == (2, Decimal("7000.00"))
    cells = [(c.share, c.revenue_retention, c.elapsed) for c in row.cells[:4]]
    assert cells == [(50.0, 57.1, True), (50.0, 28.6, True), (50.0, 14.3, True), (None, None, False)]
    e = next(row for row in report.rows if row.month == dt.date(2026, 1, 1))
    assert (e.size, e.cells[1].share, e.cells[1].revenue_retention) == (1, 100.0, 1000.0)  # 10000 ÷ 1000


def test_product_pairs_support_confidence_and_lift(value_built, admin_user):
    # Customers with products: A, B, C, E, F = 5. Seat: A C E F = 4; Onboarding: A C F = 3;
    # both: A C F = 3. Onboarding → Seat: support 3/5 = 60 %, confidence 3/3 = 100 %,
    # lift 1.0 ÷ (4/5) = 1.25. Seat → Onboarding: confidence 3/4 = 75 %, lift 0.75 ÷ 0.6 = 1.25.
    # Pairs with Support are bought by one customer only (C): below the two-customer minimum.
    report = selectors.cross_sell_report(_scope(admin_user))
    assert report.customers == 5
    rules = {(r.antecedent, r.consequent): (r.both, r.support, r.confidence, r.lift) for r in report.rules}
    assert rules == {("Onboarding", "Seat"): (3, 60.0, 100.0, 1.25), ("Seat", "Onboarding"): (3, 60.0, 75.0, 1.25)}


def test_suggestions_come_from_rules_then_from_peers(value_built):
    data = value_built
    e = list(CrossSellSuggestion.objects.filter(company=data["companies"]["E"]))
    assert [(s.product, s.because, s.confidence, s.lift, s.customers) for s in e] == [
        (data["onboarding"], data["seat"], Decimal("0.7500"), Decimal("1.250"), 3)
    ]
    assert "75.0% of customers who bought Seat also bought it" in e[0].reason
    # D bought no products: what most peers (all customers, industry blank) bought, at least 15 %:
    # Seat 4/5 = 80 %, Onboarding 60 %, Support 40 %.
    d = list(CrossSellSuggestion.objects.filter(company=data["companies"]["D"]))
    assert [(s.product.name, s.because, s.peer_group, s.confidence) for s in d] == [
        ("Seat", None, "*", Decimal("0.8000")),
        ("Onboarding", None, "*", Decimal("0.6000")),
        ("Support", None, "*", Decimal("0.4000")),
    ]
    assert not CrossSellSuggestion.objects.filter(company=data["companies"]["C"]).exists()  # bought everything


@pytest.mark.parametrize(
    ("r", "f", "m", "segment"),
    [
        (5, 5, 5, S.CHAMPIONS),
        (4, 1, 1, S.NEW),
        (5, 2, 3, S.POTENTIAL),
        (3, 4, 3, S.LOYAL),
        (3, 1, 1, S.HIBERNATING),
        (2, 3, 4, S.AT_RISK),
        (1, 5, 5, S.CANT_LOSE),
        (2, 5, 4, S.CANT_LOSE),
        (1, 1, 2, S.LOST),
    ],
)
def test_the_segment_grid(r, f, m, segment):
    assert value.segment_for(r, f, m) == segment


def test_quintile_scores_share_ties():
    assert [value.quintile_score(k, 6) for k in range(6)] == [1, 1, 2, 3, 4, 5]
    assert [value.quintile_score(k, 10) for k in range(10)] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]


def test_a_recompute_replaces_the_tables_in_one_go(value_built):
    before = CustomerValue.objects.count()
    customer_value_recompute(now=VALUE_NOW)
    assert CustomerValue.objects.count() == before
    assert CrossSellSuggestion.objects.filter(company=value_built["companies"]["E"]).count() == 1


def test_a_failed_recompute_leaves_the_previous_figures(value_built, monkeypatch):
    a = _row(value_built, "A")
    value_built["companies"]["A"].deals.update(amount=Decimal("99999"))
    monkeypatch.setattr(value, "INSERT_COHORTS", "SELECT no_such_column FROM reports_cohortcell")
    from reports.services import rollups_rebuild

    rollups_rebuild()
    with pytest.raises(Exception, match="no_such_column"):
        customer_value_recompute(now=VALUE_NOW)
    assert _row(value_built, "A").revenue_total == a.revenue_total == Decimal("6000.00")
    assert CustomerValue.objects.count() == 7


def test_seed_demo_makes_the_value_pages_meaningful(db, settings):
    from django.core.management import call_command

    from reports.models import DormancyFollowUp, ProductPair

    settings.DEBUG = True
    call_command("seed_demo")
    segments = set(CustomerValue.objects.exclude(segment="").values_list("segment", flat=True))
    assert {S.CHAMPIONS, S.LOYAL, S.AT_RISK, S.LOST, S.HIBERNATING} <= segments
    assert CustomerValue.objects.filter(won_deals__gte=4).count() >= 10  # repeat customers
    assert CustomerValue.objects.filter(is_dormant=True).count() >= 5
    assert DormancyFollowUp.objects.filter(activity__isnull=False).count() == DormancyFollowUp.objects.count() > 0
    assert ProductPair.objects.filter(customers__gte=3).exists()
    assert CrossSellSuggestion.objects.exists()


def test_the_company_card_shows_what_to_offer_next_and_why_in_one_query(
    value_built, owner, rf, django_assert_num_queries
):
    from django.template import Context, Template

    from contacts.selectors import company_for_user

    e = company_for_user(owner, value_built["companies"]["E"].pk)
    request = rf.get(e.get_absolute_url())
    request.user = owner
    template = Template("{% load value_tags %}{% customer_value company %}")
    # The value row, its profit per period and its suggestions come in one SELECT.
    with django_assert_num_queries(1):
        html = template.render(Context({"request": request, "company": e}))
    assert "What to offer next" in html
    assert '<span class="fw-semibold">Onboarding</span>' in html
    assert "75.0% of customers who bought Seat also bought it (3 customers, lift 1.2×)." in html
    assert "Loyal" in html and "11,000" in html  # the value row itself: segment, revenue in the window
