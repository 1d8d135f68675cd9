"""A campaign's cost spread over the customers it acquired (customer profitability, #18)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from campaigns.models import Campaign, ContactAttribution
from campaigns.selectors import (
    ACQUIRED_CACHE_KEY,
    acquired_customers,
    acquisition_costs,
    forget_acquired_customers,
)
from campaigns.tests.factories import campaign, contact
from contacts.tests.factories import CompanyFactory
from deals.models import DealStatus
from deals.tests.factories import DealFactory
from reports import value

pytestmark = pytest.mark.django_db

D = dt.date


def _at(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(12)))


def _started(owner, **fields) -> Campaign:
    c = campaign(owner, **fields)
    Campaign.objects.filter(pk=c.pk).update(started_at=_at(c.starts_on))
    c.refresh_from_db()
    return c


def _customer(owner, name, touched_by, *, won_on=None, touched_at=None):
    company = CompanyFactory(owner=owner, name=name)
    person = contact(owner, name, company=company)
    if touched_by is not None:
        ContactAttribution.objects.create(
            contact=person, campaign=touched_by, created_at=touched_at or _at(D(2026, 3, 1))
        )
    if won_on is not None:
        DealFactory(owner=owner, company=company, status=DealStatus.WON, closed_at=_at(won_on))
    return company


@pytest.fixture
def spring(owner):
    # 100.00 USD, March to April; customers won up to 90 days after the end count.
    return _started(owner, starts_on=D(2026, 3, 1), ends_on=D(2026, 4, 30), actual_cost=Decimal("100.00"))


def test_the_cost_is_spread_over_the_customers_it_acquired_to_the_cent(owner, spring):
    a = _customer(owner, "Alpha", spring, won_on=D(2026, 3, 20))
    b = _customer(owner, "Beta", spring, won_on=D(2026, 7, 29))  # 90 days after the end
    c = _customer(owner, "Gamma", spring, won_on=D(2026, 5, 2))
    _customer(owner, "Late", spring, won_on=D(2026, 7, 30))  # 91 days after: not acquired by it
    _customer(owner, "Early", spring, won_on=D(2026, 2, 27))  # a customer before it started
    _customer(owner, "Touched", spring)  # never bought
    _customer(owner, "Organic", None, won_on=D(2026, 3, 20))  # no campaign touched it

    assert set(acquired_customers(today=D(2026, 12, 1))) == {a.pk, b.pk, c.pk}
    costs = acquisition_costs(start=None, end=D(2026, 12, 31), company_ids=None)
    # 100.00 / 3: the odd cent goes to the first customer by id; the shares add up to the cost.
    assert costs == {a.pk: Decimal("33.34"), b.pk: Decimal("33.33"), c.pk: Decimal("33.33")}
    assert sum(costs.values()) == Decimal("100.00")


def test_a_share_falls_in_the_period_of_the_first_won_deal(owner, spring):
    a = _customer(owner, "Alpha", spring, won_on=D(2026, 3, 20))
    b = _customer(owner, "Beta", spring, won_on=D(2026, 6, 1))
    assert acquisition_costs(start=D(2026, 3, 31), end=D(2026, 12, 31), company_ids=None) == {b.pk: Decimal("50.00")}
    assert acquisition_costs(start=None, end=D(2026, 3, 31), company_ids=[a.pk, b.pk]) == {a.pk: Decimal("50.00")}
    assert acquisition_costs(start=None, end=D(2026, 12, 31), company_ids=[b.pk]) == {b.pk: Decimal("50.00")}


def test_the_first_touch_decides_which_campaign_acquired_a_customer(owner, spring):
    later = _started(owner, starts_on=D(2026, 3, 10), actual_cost=Decimal("40.00"))
    company = _customer(owner, "Alpha", spring, won_on=D(2026, 3, 20), touched_at=_at(D(2026, 3, 2)))
    ContactAttribution.objects.create(
        contact=contact(owner, "Second", company=company), campaign=later, created_at=_at(D(2026, 3, 12))
    )
    assert acquired_customers()[company.pk][0] == spring.pk
    assert acquisition_costs(start=None, end=D(2026, 12, 31), company_ids=None) == {company.pk: Decimal("100.00")}


def test_a_draft_campaign_acquires_nobody(owner):
    draft = campaign(owner, starts_on=D(2026, 3, 1), actual_cost=Decimal("500.00"))
    _customer(owner, "Alpha", draft, won_on=D(2026, 3, 20))
    assert acquisition_costs(start=None, end=D(2026, 12, 31), company_ids=None) == {}


def test_reports_counts_the_campaigns_cost_in_a_customers_acquisition_cost(owner, spring):
    """The source is registered by the reports app: its profitability sees campaign costs."""
    a = _customer(owner, "Alpha", spring, won_on=D(2026, 3, 20))
    assert value.acquisition_costs(start=None, end=D(2026, 12, 31), company_ids=[a.pk]) == {a.pk: Decimal("100.00")}


def test_a_refresh_of_a_few_customers_reads_only_theirs_and_keeps_the_last_full_count(
    owner, spring, django_assert_max_num_queries
):
    """An incremental refresh (after a deal move) reads the refreshed customers afresh and
    takes the others from the last full reading: no scan of every attribution and won deal,
    and how many share the cost waits for the next full run."""
    a = _customer(owner, "Alpha", spring, won_on=D(2026, 3, 20))
    b = _customer(owner, "Beta", spring, won_on=D(2026, 4, 2))
    assert set(acquired_customers()) == {a.pk, b.pk}  # the full reading, kept
    c = _customer(owner, "Gamma", spring, won_on=D(2026, 4, 3))  # acquired since

    with CaptureQueriesContext(connection) as queries:
        costs = acquisition_costs(start=None, end=D(2026, 12, 31), company_ids=[a.pk])
    assert costs == {a.pk: Decimal("50.00")}  # still shared by the two the full run counted
    reads = [q["sql"] for q in queries.captured_queries if "campaigns_contactattribution" in q["sql"]]
    assert reads and all(f"IN ({a.pk})" in sql for sql in reads), reads
    assert len(queries.captured_queries) <= 5

    # Gamma's own refresh finds it acquired; the next full run shares the cost three ways.
    assert acquisition_costs(start=None, end=D(2026, 12, 31), company_ids=[c.pk]) == {c.pk: Decimal("33.33")}
    assert acquisition_costs(start=None, end=D(2026, 12, 31), company_ids=None) == {
        a.pk: Decimal("33.34"),
        b.pk: Decimal("33.33"),
        c.pk: Decimal("33.33"),
    }


def test_a_refresh_finds_a_customer_that_is_no_longer_acquired(owner, spring):
    a = _customer(owner, "Alpha", spring, won_on=D(2026, 3, 20))
    b = _customer(owner, "Beta", spring, won_on=D(2026, 4, 2))
    assert set(acquired_customers()) == {a.pk, b.pk}
    b.deals.update(status=DealStatus.OPEN, closed_at=None)  # the won deal reopened

    assert acquisition_costs(start=None, end=D(2026, 12, 31), company_ids=[b.pk]) == {}
    assert set(acquired_customers(company_ids=[b.pk])) == {a.pk}


def test_without_a_full_reading_in_the_cache_a_refresh_makes_one(owner, spring):
    a = _customer(owner, "Alpha", spring, won_on=D(2026, 3, 20))
    b = _customer(owner, "Beta", spring, won_on=D(2026, 4, 2))
    forget_acquired_customers()
    assert acquisition_costs(start=None, end=D(2026, 12, 31), company_ids=[b.pk]) == {b.pk: Decimal("50.00")}
    assert set(cache.get(ACQUIRED_CACHE_KEY)) == {a.pk, b.pk}


def test_a_full_customer_value_run_reads_the_acquired_customers_once_for_both_periods(owner, spring):
    """The nightly run charges acquisition cost for the last 12 months and for all time: one
    reading of every attribution and won deal serves both (``crm.request_memo.scope``)."""
    from reports.models import CustomerProfit
    from reports.services import customer_value_recompute

    a = _customer(owner, "Alpha", spring, won_on=D(2026, 3, 20))
    with CaptureQueriesContext(connection) as queries:
        customer_value_recompute(now=_at(D(2026, 12, 1)))
    full_reads = [
        q["sql"]
        for q in queries.captured_queries
        if 'FROM "campaigns_contactattribution"' in q["sql"] and "ORDER BY" in q["sql"]
    ]
    assert len(full_reads) == 1, full_reads
    # Both periods were charged from that one reading.
    costs = dict(CustomerProfit.objects.filter(company=a).values_list("period", "acquisition_cost"))
    assert costs == {"12m": Decimal("100.00"), "all": Decimal("100.00")}
