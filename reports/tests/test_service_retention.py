"""Service trouble in customer value, on the hand-computed customer base of ``value_data``
(RFM as in test_customer_value: A R5 FM4 Champions, B R2 FM1 Hibernating, E R3 FM4 Loyal,
Z R4 FM3 Potential loyalists; "today" 2026-06-30, so scores count from 2026-01-01 with the
default SERVICE_CSAT_DAYS = 180 and SERVICE_LOW_CSAT = 2).

    A: two open cases that breached their SLA, and a resolved one rated 2 on 2026-06-01
       → "2 breached cases, CSAT 2/5"; R capped at 2 with FM 4 → At risk.
    B: an open breached case, but FM 1: stays Hibernating (nothing worth keeping at risk).
    E: rated 1 on 2025-11-01 (before the 180 days: ignored) and 3 on 2026-05-01 → 3.0, not
       low; the breached case is resolved, so not open → no trouble, stays Loyal.
    Z: no case at the full run (Potential loyalists); an open breached case arrives later and
       the refresh of Z alone moves it to At risk (R4 → 2, FM 3).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from contacts.models import ValueSegment as S
from reports import value
from reports.models import CustomerValue, SegmentCell
from reports.services import customer_value_recompute, customer_value_refresh_companies, rollups_rebuild
from reports.tests.conftest import VALUE_NOW
from service.models import Case, CaseStatus


def _case(company, team, *, status=CaseStatus.OPEN, breached=False, score=None, rated=None) -> Case:
    return Case.objects.create(
        subject="Trouble",
        company=company,
        team=team,
        status=status,
        sla_breached=breached,
        csat_score=score,
        csat_at=rated,
        created_at=dt.datetime(2026, 4, 1, tzinfo=dt.UTC),
    )


def _on(month: int, day: int, year: int = 2026) -> dt.datetime:
    return dt.datetime(year, month, day, 12, tzinfo=dt.UTC)


@pytest.fixture
def troubled(value_data, north):
    c = value_data["companies"]
    _case(c["A"], north, breached=True)
    _case(c["A"], north, status=CaseStatus.WAITING, breached=True)
    _case(c["A"], north, status=CaseStatus.RESOLVED, score=2, rated=_on(6, 1))
    _case(c["B"], north, status=CaseStatus.NEW, breached=True)
    _case(c["E"], north, status=CaseStatus.CLOSED, breached=True, score=1, rated=_on(11, 1, 2025))
    _case(c["E"], north, status=CaseStatus.RESOLVED, score=3, rated=_on(5, 1))
    rollups_rebuild()
    customer_value_recompute(now=VALUE_NOW)
    return value_data


def _row(data, name: str) -> CustomerValue:
    return CustomerValue.objects.get(company=data["companies"][name])


def test_service_trouble_moves_customers_worth_keeping_to_at_risk(troubled):
    got = {
        name: (row.segment, row.breached_cases, row.csat_average, row.csat_ratings, row.service_risk)
        for name in "ABEZ"
        for row in [_row(troubled, name)]
    }
    assert got == {
        "A": (S.AT_RISK, 2, Decimal("2.00"), 1, True),
        "B": (S.HIBERNATING, 1, None, 0, True),
        "E": (S.LOYAL, 0, Decimal("3.00"), 1, False),
        "Z": (S.POTENTIAL, 0, None, 0, False),
    }
    # The RFM scores themselves are untouched: only the segment reads R as at most 2.
    a = _row(troubled, "A")
    assert (a.r_score, a.f_score, a.m_score) == (5, 5, 2)
    troubled["companies"]["A"].refresh_from_db()
    assert troubled["companies"]["A"].value_segment == S.AT_RISK


def test_the_reason_is_in_words_with_counts(troubled):
    assert _row(troubled, "A").service_reason == "2 breached cases, CSAT 2/5"
    assert _row(troubled, "B").service_reason == "1 breached case"
    assert _row(troubled, "E").service_reason == ""


def test_the_at_risk_list_shows_the_reason(troubled, owner_client):
    html = owner_client.get(reverse("reports:top-customers"), {"segment": S.AT_RISK}).content.decode()
    assert "Customer A" in html and "2 breached cases, CSAT 2/5" in html
    csv = owner_client.get(reverse("reports:top-customers-csv"), {"segment": S.AT_RISK}).content.decode()
    assert "2 breached cases, CSAT 2/5" in csv


def test_a_breach_between_runs_moves_the_customer_at_once(troubled, north, outsider):
    z = troubled["companies"]["Z"]
    _case(z, north, breached=True)
    assert customer_value_refresh_companies(company_ids=[z.pk], now=VALUE_NOW) == 1
    row = _row(troubled, "Z")
    assert (row.segment, row.breached_cases, row.service_reason) == (S.AT_RISK, 1, "1 breached case")
    z.refresh_from_db()
    assert z.value_segment == S.AT_RISK
    cells = dict(SegmentCell.objects.filter(owner=outsider).values_list("segment", "customers"))
    assert cells == {S.AT_RISK: 1}
    # Resolving the case takes it off the list again.
    Case.objects.filter(company=z).update(status=CaseStatus.RESOLVED)
    customer_value_refresh_companies(company_ids=[z.pk], now=VALUE_NOW)
    assert _row(troubled, "Z").segment == S.POTENTIAL
    assert dict(SegmentCell.objects.filter(owner=outsider).values_list("segment", "customers")) == {S.POTENTIAL: 1}


@pytest.mark.parametrize(
    ("r", "f", "m", "trouble", "segment"),
    [
        (5, 5, 5, True, S.CANT_LOSE),  # a champion with FM 5: can't lose
        (5, 4, 3, True, S.AT_RISK),  # FM 4
        (3, 3, 3, True, S.AT_RISK),  # loyal, FM 3
        (4, 2, 2, True, S.POTENTIAL),  # FM 2: not moved
        (5, 1, 1, True, S.NEW),  # a new customer with a bad start stays new
        (1, 5, 5, True, S.CANT_LOSE),  # already there
        (5, 5, 5, False, S.CHAMPIONS),
    ],
)
def test_the_rule_on_the_segment_grid(r, f, m, trouble, segment):
    assert value.segment_for(r, f, m, service_trouble=trouble) == segment
