import datetime as dt
import json
from decimal import Decimal

import pytest
import redis
from celery.signals import after_task_publish
from django.conf import settings

from deals.models import ExchangeRate
from reports.tests.factories import LostReasonFactory, deal_with_history, sales_pipeline


def at(month: int, day: int) -> dt.datetime:
    return dt.datetime(2026, month, day, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def hand_data(owner, teammate, outsider):
    """The tiny dataset every formula test computes by hand (all times 09:00 UTC, 2026).

    Deal A, owner, 1000 USD: Lead Jan 5 → Qualified Jan 10 → Won Jan 20 (skips Proposal).
    Deal B, owner, 500 EUR (1.20 → 600 USD): Lead Jan 3 → Proposal Jan 8 (skips Qualified)
        → Qualified Jan 12 (back) → Proposal Jan 15 (again) → Lost Jan 25, reason Price.
    Deal C, teammate, 2000 USD, 50 %, expected close 2026-03-14: Lead Jan 7 → Qualified Jan 17; open.
    Deal D, owner, 300 USD: created in Qualified Jan 2 → Lost Feb 1, reason Timing.
    Deal E, outsider (team South), 9999 USD: Lead Jan 4 → Won Jan 6. Never in North's numbers.
    """
    ExchangeRate.objects.create(currency="EUR", date=dt.date(2025, 12, 1), rate=Decimal("1.20"))
    pipeline, s = sales_pipeline()
    price, timing = LostReasonFactory(name="Price"), LostReasonFactory(name="Timing")
    deals = {
        "A": deal_with_history(
            owner=owner,
            amount=1000,
            source="referral",
            moves=[(s["Lead"], at(1, 5)), (s["Qualified"], at(1, 10)), (s["Won"], at(1, 20))],
        ),
        "B": deal_with_history(
            owner=owner,
            amount=500,
            currency="EUR",
            lost_reason=price,
            source="website",
            moves=[
                (s["Lead"], at(1, 3)),
                (s["Proposal"], at(1, 8)),
                (s["Qualified"], at(1, 12)),
                (s["Proposal"], at(1, 15)),
                (s["Lost"], at(1, 25)),
            ],
        ),
        "C": deal_with_history(
            owner=teammate,
            amount=2000,
            probability=50,
            expected_close_date=dt.date(2026, 3, 14),
            moves=[(s["Lead"], at(1, 7)), (s["Qualified"], at(1, 17))],
        ),
        "D": deal_with_history(
            owner=owner,
            amount=300,
            lost_reason=timing,
            source="website",
            moves=[(s["Qualified"], at(1, 2)), (s["Lost"], at(2, 1))],
        ),
        "E": deal_with_history(owner=outsider, amount=9999, moves=[(s["Lead"], at(1, 4)), (s["Won"], at(1, 6))]),
    }
    return {"pipeline": pipeline, "stages": s, "deals": deals}


class PublishedTasks:
    """Tasks really published to the Redis broker, seen through Celery's ``after_task_publish``.

    Other test workers (the activities drills run a real Celery worker) may consume the
    messages at once, so the queue itself is not counted; whatever of ours is still queued
    is removed afterwards so no worker runs it against another database.
    """

    def __init__(self) -> None:
        self.sent: list[dict] = []

    def __call__(self, sender=None, headers=None, body=None, **kwargs) -> None:
        self.sent.append(headers)

    def named(self, task: str) -> list[dict]:
        return [headers for headers in self.sent if headers["task"] == task]

    def discard_queued(self) -> None:
        broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
        ids = {headers["id"] for headers in self.sent}
        for raw in broker.lrange("celery", 0, -1):
            if json.loads(raw)["headers"]["id"] in ids:
                broker.lrem("celery", 1, raw)


@pytest.fixture
def published_tasks(db):
    recorder = PublishedTasks()
    after_task_publish.connect(recorder, weak=False)
    yield recorder
    after_task_publish.disconnect(recorder)
    recorder.discard_queued()


# Customer value ------------------------------------------------------------------------

VALUE_NOW = dt.datetime(2026, 6, 30, 12, 0, tzinfo=dt.UTC)


def won_on(day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, 0, tzinfo=dt.UTC)


@pytest.fixture
def value_data(owner, outsider, settings):
    """The small customer base every customer-value formula test computes by hand.

    "Today" is 2026-06-30 (``VALUE_NOW``); RFM_WINDOW_MONTHS = 12, so the window starts on
    2025-06-01; DORMANT_DAYS = 90; lifespan from the setting (3 years: nobody bought in the
    year before last, so churn cannot be measured). All won, USD, companies owned by ``owner``
    (industry blank), except Z (the outsider's):

        A: 2025-09-01 3000 [Seat, Onboarding], 2026-03-10 2000, 2026-06-20 1000
        B: 2026-05-01 500 [Support]
        C: 2025-09-20 4000 [Seat, Onboarding, Support], 2025-12-15 4000
        D: 2025-08-10 700; a done call with one of D's contacts on 2026-05-15
        E: 2026-01-15 1000 [Seat], 2026-06-01 10000
        F: 2024-03-01 5000 [Seat, Onboarding] (before the window); an open deal of 2000
        Z: the outsider's, 2026-06-10 9999
    """
    from activities.models import Activity, ActivityType
    from activities.services import activity_types_ensure_builtin
    from contacts.tests.factories import CompanyFactory, ContactFactory
    from deals.models import LineItem, Product

    activity_types_ensure_builtin()  # a transactional test before this one flushed the migration's types
    settings.RFM_WINDOW_MONTHS = 12
    settings.DORMANT_DAYS = 90
    settings.CUSTOMER_LIFESPAN_YEARS = 3
    settings.CHURN_MIN_CUSTOMERS = 20
    _pipeline, s = sales_pipeline()
    seat = Product.objects.create(name="Seat", sku="V-SEAT", price=Decimal("100"))
    onboarding = Product.objects.create(name="Onboarding", sku="V-ONB", price=Decimal("100"))
    support = Product.objects.create(name="Support", sku="V-SUP", price=Decimal("100"))
    companies = {name: CompanyFactory(name=f"Customer {name}", owner=owner, industry="") for name in "ABCDEF"}
    companies["Z"] = CompanyFactory(name="Customer Z", owner=outsider)

    def won(name: str, day: dt.date, amount: int, products=()) -> None:
        company = companies[name]
        closed = won_on(day)
        deal = deal_with_history(
            owner=company.owner,
            company=company,
            amount=amount,
            moves=[(s["Lead"], closed - dt.timedelta(days=20)), (s["Won"], closed)],
        )
        for product in products:
            LineItem.objects.create(deal=deal, product=product, unit_price=Decimal("100"))

    d = dt.date
    won("A", d(2025, 9, 1), 3000, [seat, onboarding])
    won("A", d(2026, 3, 10), 2000)
    won("A", d(2026, 6, 20), 1000)
    won("B", d(2026, 5, 1), 500, [support])
    won("C", d(2025, 9, 20), 4000, [seat, onboarding, support])
    won("C", d(2025, 12, 15), 4000)
    won("D", d(2025, 8, 10), 700)
    won("E", d(2026, 1, 15), 1000, [seat])
    won("E", d(2026, 6, 1), 10000)
    won("F", d(2024, 3, 1), 5000, [seat, onboarding])
    won("Z", d(2026, 6, 10), 9999)
    deal_with_history(
        owner=owner,
        company=companies["F"],
        amount=2000,
        moves=[(s["Lead"], won_on(d(2026, 6, 1))), (s["Qualified"], won_on(d(2026, 6, 5)))],
    )
    contact = ContactFactory(owner=owner, company=companies["D"])
    Activity.objects.create(
        type=ActivityType.objects.get(key="call"),
        subject="Catch-up",
        owner=owner,
        contact=contact,
        done_at=won_on(d(2026, 5, 15)),
    )
    return {"companies": companies, "stages": s, "seat": seat, "onboarding": onboarding, "support": support}


@pytest.fixture
def value_built(value_data):
    from reports.services import customer_value_recompute, rollups_rebuild

    rollups_rebuild()
    customer_value_recompute(now=VALUE_NOW)
    return value_data
