"""Report formulas against the hand-computed dataset in ``conftest.hand_data``.

Funnel, January, Sales pipeline, manager of North (owner + teammate; outsider's deal E excluded):
    Lead      entered A, B, C = 3; all reached a later stage → conversion 100 %
    Qualified entered A, B (skipped past on Jan 8), C, D = 4; A and B went further → 2 → 50 %
    Proposal  entered A (skipped past on Jan 20), B (once, although twice in it) = 2;
              A went further, B did not → 50 %
    Won       entered A = 1 → overall conversion 1 / 3 (Lead) = 33.3 %
    Lead amount = A 1000 + B 600 + C 2000 = 3600 USD.
Win/loss, Jan–Feb: A won (Jan), B lost (Jan), D lost (Feb) → 1 / 3 = 33.3 %; Jan 50 %, Feb 0 %.
Velocity, Jan–Feb: open deals 1 (C), win rate 1/3, average won 1000, cycle 15 days (Jan 5 → Jan 20)
    → 1 × 1/3 × 1000 / 15 = 22.22 per day.
    Time in Lead: A 5 d, B 5 d, C 10 d → 6.7; Qualified: A 10, B 3, D 30 → 14.3; Proposal: B 4, B 10 → 7.0.
Forecast: C only, March 2026: weighted 1000, unweighted 2000.
"""

import datetime as dt
from decimal import Decimal

import pytest
from django.http import QueryDict

from reports import selectors
from reports.scope import report_scope_for_user
from reports.services import rollups_rebuild


def scope_for(user, query: str, *, require_pipeline: bool = False):
    return report_scope_for_user(user, QueryDict(query), require_pipeline=require_pipeline)


@pytest.fixture
def generation_id(hand_data):
    return rollups_rebuild().pk


def test_funnel_counts_skipped_stages_once_and_backward_moves_once(manager, hand_data, generation_id):
    scope = scope_for(manager, "from=2026-01&to=2026-01", require_pipeline=True)
    report = selectors.funnel_report(scope, generation_id)
    table = [(row.stage.name, row.entered, row.reached_later, row.conversion) for row in report.rows]
    assert table == [
        ("Lead", 3, 3, 100.0),
        ("Qualified", 4, 2, 50.0),
        ("Proposal", 2, 1, 50.0),
        ("Won", 1, 0, None),
    ]
    assert report.overall_conversion == 33.3
    assert report.rows[0].amount == Decimal("3600.00")
    assert report.rows[1].dropped == 2


def test_funnel_period_counts_entries_in_the_period_only(manager, hand_data, generation_id):
    scope = scope_for(manager, "from=2026-02&to=2026-03", require_pipeline=True)
    assert [row.entered for row in selectors.funnel_report(scope, generation_id).rows] == [0, 0, 0, 0]


def test_win_rate_is_won_over_closed_in_the_period(manager, hand_data, generation_id):
    report = selectors.winloss_report(scope_for(manager, "from=2026-01&to=2026-02"), generation_id, source_labels={})
    assert (report.total.won, report.total.lost, report.total.win_rate) == (1, 2, 33.3)
    assert [(line.label, line.win_rate) for line in report.by_month] == [("2026-01", 50.0), ("2026-02", 0.0)]
    assert [(line.label, line.lost) for line in report.reasons] == [("Price", 1), ("Timing", 1)]
    assert report.total.lost_amount == Decimal("900.00")  # 600 (500 EUR) + 300
    by_source = {line.key: (line.won, line.lost) for line in report.by_source}
    assert by_source == {"referral": (1, 0), "website": (0, 2)}


def test_velocity_multiplies_open_deals_win_rate_and_size_over_cycle(manager, hand_data, generation_id):
    report = selectors.velocity_report(
        scope_for(manager, "from=2026-01&to=2026-02", require_pipeline=True), generation_id
    )
    assert (report.open_deals, report.won, report.lost) == (1, 1, 2)
    assert report.average_won == Decimal("1000.00")
    assert report.cycle_days == Decimal("15.00")
    assert report.velocity_per_day == Decimal("22.22")
    assert [(row.stage.name, row.visits, row.average_days) for row in report.stage_times] == [
        ("Lead", 3, 6.7),
        ("Qualified", 3, 14.3),
        ("Proposal", 2, 7.0),
    ]


def test_forecast_weights_open_deals_by_probability(manager, hand_data, generation_id):
    report = selectors.forecast_report(scope_for(manager, ""), generation_id)
    assert [(line.key, line.weighted, line.unweighted, line.deals) for line in report.by_month] == [
        (dt.date(2026, 3, 1), Decimal("1000.00"), Decimal("2000.00"), 1)
    ]
    assert [line.label for line in report.by_owner] == ["Tom Teammate"]


def test_money_is_converted_at_the_close_date_rate(owner, hand_data, generation_id):
    report = selectors.winloss_report(scope_for(owner, "from=2026-01&to=2026-01"), generation_id, source_labels={})
    assert [(line.label, line.lost_amount) for line in report.reasons] == [("Price", Decimal("600.00"))]


def test_a_rep_sees_only_their_own_numbers(teammate, hand_data, generation_id):
    scope = scope_for(teammate, "from=2026-01&to=2026-01", require_pipeline=True)
    assert [row.entered for row in selectors.funnel_report(scope, generation_id).rows] == [1, 1, 0, 0]


def test_an_admin_sees_everyone(admin_user, hand_data, generation_id):
    scope = scope_for(admin_user, "from=2026-01&to=2026-01", require_pipeline=True)
    assert [row.entered for row in selectors.funnel_report(scope, generation_id).rows] == [
        4,
        5,
        3,
        2,
    ]  # E skips Qualified and Proposal on its way to Won
