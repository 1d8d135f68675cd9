import datetime as dt
import json
from decimal import Decimal

import pytest
import redis
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


class BrokerQueue:
    """Messages in the real Redis broker's default queue; shared by parallel test workers, so
    tests look for their own new messages instead of counting the queue."""

    def __init__(self) -> None:
        self.redis = redis.Redis.from_url(settings.CELERY_BROKER_URL)
        self.before = set(self.redis.lrange("celery", 0, -1))

    def new_messages(self, task: str) -> list[dict]:
        found = []
        for raw in self.redis.lrange("celery", 0, -1):
            if raw in self.before:
                continue
            headers = json.loads(raw)["headers"]
            if headers["task"] == task:
                found.append(headers)
                self.redis.lrem("celery", 1, raw)  # leave the queue as it was
        return found


@pytest.fixture
def broker_queue(db) -> BrokerQueue:
    return BrokerQueue()
