"""Property: whatever the deals and stage histories, the rollups equal a direct computation
from the raw rows — after a full rebuild, after an incremental refresh, and after a rebuild
that died half way (readers keep the old figures) and was run again."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import ROUND_HALF_UP, Decimal
from unittest import mock

import pytest
from django.db import transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deals.models import Deal, DealStatus, ExchangeRate, StageChange
from deals.money import RateBook
from reports import services
from reports.models import DealFact, RollupPointer, StageFact, StageVisit
from reports.tests.factories import deal_with_history, sales_pipeline

START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
FUNNEL = ["Lead", "Qualified", "Proposal", "Won"]
ALL_STAGES = [*FUNNEL, "Lost"]

moves = st.lists(
    st.tuples(st.sampled_from(ALL_STAGES), st.integers(min_value=1, max_value=24 * 40)), min_size=1, max_size=7
)
deals = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=2),  # owner
        st.integers(min_value=0, max_value=50_000),  # amount
        st.sampled_from(["USD", "EUR"]),
        st.integers(min_value=0, max_value=24 * 200),  # created, hours after START
        moves,
        st.integers(min_value=0, max_value=100),  # probability
    ),
    min_size=1,
    max_size=8,
)


class Interrupted(Exception):
    pass


def month(value: dt.datetime) -> dt.date:
    return value.date().replace(day=1)


def direct_figures() -> dict:
    """The figures computed the plain way: replay every deal's raw history, stage by stage."""
    rates = RateBook()
    today = timezone.localdate()
    funnel, visits, closed, open_forecast = Counter(), Counter(), Counter(), Counter()
    for deal in Deal.objects.select_related("stage").order_by("pk"):
        history = list(StageChange.objects.filter(deal=deal).select_related("to_stage").order_by("at", "id"))
        rate_on = deal.closed_at.date() if deal.closed_at else today
        amount = rates.to_base(deal.amount, deal.currency, rate_on)
        positions = [FUNNEL.index(c.to_stage.name) if c.to_stage.name in FUNNEL else None for c in history]
        for p, name in enumerate(FUNNEL):
            entry = None
            last = None  # the deal's funnel position before each move
            for i, position in enumerate(positions):
                if position is None:
                    continue
                lands_here = position == p
                skips_past = last is not None and last < p < position
                if lands_here or skips_past:
                    entry = i
                    break
                last = position
            if entry is None:
                continue
            later = any(q is not None and q > p for q in positions[entry:])
            key = (name, month(history[entry].at))
            funnel[key + ("entered",)] += 1
            funnel[key + ("later",)] += int(later)
            funnel[key + ("amount",)] += amount
        for current, following in zip(history, history[1:], strict=False):
            visits[(current.to_stage.name, month(following.at))] += int((following.at - current.at).total_seconds())
        if deal.status == DealStatus.OPEN:
            weighted = (amount * deal.probability / Decimal(100)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
            open_forecast[(deal.owner_id, deal.expected_close_date)] += weighted
        else:
            closed[(deal.status, month(deal.closed_at))] += 1
            closed[(deal.status, month(deal.closed_at), "amount")] += amount
    return {"funnel": +funnel, "visits": +visits, "closed": +closed, "forecast": +open_forecast}


def rollup_figures() -> dict:
    """The same figures read the way the report pages read them: from the current generation."""
    generation_id = RollupPointer.objects.get(pk=1).generation_id
    funnel, visits, closed, open_forecast = Counter(), Counter(), Counter(), Counter()
    rows = (
        StageFact.objects.filter(generation_id=generation_id)
        .values("stage__name", "entered_month")
        .annotate(entered=Count("id"), later=Count("id", filter=Q(reached_later=True)), amount=Sum("amount_base"))
    )
    for row in rows:
        key = (row["stage__name"], row["entered_month"])
        funnel[key + ("entered",)] += row["entered"]
        funnel[key + ("later",)] += row["later"]
        funnel[key + ("amount",)] += row["amount"]
    for row in (
        StageVisit.objects.filter(generation_id=generation_id)
        .values("stage__name", "left_month")
        .annotate(seconds=Sum("seconds"))
    ):
        visits[(row["stage__name"], row["left_month"])] += row["seconds"]
    facts = DealFact.objects.filter(generation_id=generation_id)
    for row in (
        facts.exclude(status=DealStatus.OPEN)
        .values("status", "closed_month")
        .annotate(n=Count("id"), amount=Sum("amount_base"))
    ):
        closed[(row["status"], row["closed_month"])] += row["n"]
        closed[(row["status"], row["closed_month"], "amount")] += row["amount"]
    for row in facts.filter(status=DealStatus.OPEN).select_related("deal"):
        open_forecast[(row.owner_id, row.deal.expected_close_date)] += row.weighted_base
    return {"funnel": +funnel, "visits": +visits, "closed": +closed, "forecast": +open_forecast}


def create_deals(spec, owners, stages) -> list[Deal]:
    created = []
    for owner_index, amount, currency, created_hours, history, probability in spec:
        at = START + dt.timedelta(hours=created_hours)
        timeline = []
        for stage_name, gap in history:
            timeline.append((stages[stage_name], at))
            at += dt.timedelta(hours=gap)
        created.append(
            deal_with_history(
                owner=owners[owner_index],
                moves=timeline,
                amount=amount,
                currency=currency,
                probability=probability,
                expected_close_date=(START + dt.timedelta(hours=created_hours * 2)).date(),
            )
        )
    return created


def move(deal: Deal, stage, hours_later: int) -> None:
    last = StageChange.objects.filter(deal=deal).order_by("-at", "-id").first()
    at = last.at + dt.timedelta(hours=hours_later)
    StageChange.objects.create(deal=deal, from_stage=last.to_stage, to_stage=stage, at=at)
    status = DealStatus.WON if stage.is_won else DealStatus.LOST if stage.is_lost else DealStatus.OPEN
    Deal.objects.filter(pk=deal.pk).update(
        stage=stage, status=status, closed_at=None if status == DealStatus.OPEN else at
    )


@pytest.mark.django_db
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(spec=deals, extra=moves, later_spec=deals)
def test_rollups_equal_a_direct_computation_from_raw_history(owner, teammate, outsider, spec, extra, later_spec):
    with transaction.atomic():
        ExchangeRate.objects.create(currency="EUR", date=dt.date(2025, 12, 1), rate=Decimal("1.17"))
        ExchangeRate.objects.create(currency="EUR", date=dt.date(2026, 4, 1), rate=Decimal("1.09"))
        _pipeline, stages = sales_pipeline()
        owners = [owner, teammate, outsider]
        created = create_deals(spec, owners, stages)

        services.rollups_rebuild(chunk_size=1)
        assert rollup_figures() == direct_figures()

        # Incremental: more moves on one deal, then refresh just that deal.
        for stage_name, gap in extra:
            move(created[0], stages[stage_name], gap)
        services.rollups_refresh_for_deal(deal_id=created[0].pk)
        assert rollup_figures() == direct_figures()
        before = rollup_figures()

        # A rebuild that dies half way leaves readers on the previous generation...
        create_deals(later_spec, owners, stages)
        calls = {"n": 0}
        real_write = services._write_facts

        def dying_write(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] == 2:
                raise Interrupted
            return real_write(*args, **kwargs)

        with mock.patch.object(services, "_write_facts", dying_write), pytest.raises(Interrupted):
            services.rollups_rebuild(chunk_size=1)
        assert calls["n"] == 2
        assert rollup_figures() == before

        # ...and running it again gives the right figures.
        services.rollups_rebuild(chunk_size=1)
        assert rollup_figures() == direct_figures()
        transaction.set_rollback(True)
