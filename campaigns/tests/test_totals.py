"""The stored campaign deal totals (``CampaignDealTotal``, kept by triggers on the attributions
and the deals) against a fresh GROUP BY of both.

The property: whatever sequence of writes — attributions made, moved and deleted, deals
updated through the services and ``QuerySet.update``, deals deleted (by Django, or raw SQL
before their attribution), campaigns deleted, rollbacks — the table equals the GROUP BY. And the
campaign loop read from it is the one the deals give.
"""

from __future__ import annotations

import datetime as dt
import io
import random
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from campaigns import selectors, totals
from campaigns.models import Campaign, CampaignDealTotal, DealAttribution
from campaigns.tests.factories import campaign
from deals.models import Deal, DealStatus
from deals.tests.factories import DealFactory, make_pipeline

pytestmark = pytest.mark.django_db


def _assert_exact() -> None:
    assert totals.differences() == []


def _amount(rng: random.Random) -> Decimal:
    return Decimal(rng.randint(0, 2_000_000)) / 100


def _attribute(deal: Deal, to: Campaign | None) -> DealAttribution:
    return DealAttribution.objects.create(deal=deal, created_by_campaign=to, first_touch_campaign=to)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_after_random_writes_the_totals_equal_a_fresh_group_by(seed, owner, teammate):
    rng = random.Random(seed)
    pipeline = make_pipeline()
    campaigns = [campaign(owner), campaign(teammate), campaign(owner, currency="EUR")]
    deals = [
        DealFactory(owner=rng.choice([owner, teammate]), pipeline=pipeline, amount=_amount(rng)) for _ in range(10)
    ]
    for deal in deals[:7]:
        _attribute(deal, rng.choice([*campaigns, None]))
    _assert_exact()
    assert CampaignDealTotal.objects.exists()

    def attributed() -> list[DealAttribution]:
        return list(DealAttribution.objects.order_by("pk"))

    def live_deals() -> list[Deal]:
        return list(Deal.objects.order_by("pk"))

    for _ in range(30):
        action = rng.randrange(9)
        if action == 0 and live_deals():  # amount and currency, through save()
            deal = rng.choice(live_deals())
            deal.amount, deal.currency = _amount(rng), rng.choice(["USD", "EUR", "GBP"])
            deal.save(update_fields=["amount", "currency"])
        elif action == 1:  # won or lost on some day, several deals in one UPDATE
            ids = [d.pk for d in rng.sample(live_deals(), k=min(3, len(live_deals())))]
            day = dt.datetime(2026, rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23), tzinfo=dt.UTC)
            Deal.objects.filter(pk__in=ids).update(status=rng.choice([DealStatus.WON, DealStatus.LOST]), closed_at=day)
        elif action == 2 and live_deals():  # reopened
            Deal.objects.filter(pk=rng.choice(live_deals()).pk).update(status=DealStatus.OPEN, closed_at=None)
        elif action == 3 and attributed():  # credited to another campaign, or to none
            row = rng.choice(attributed())
            row.created_by_campaign = rng.choice([*campaigns, None])
            row.save(update_fields=["created_by_campaign"])
        elif action == 4:  # a new deal, attributed
            deal = DealFactory(owner=owner, pipeline=pipeline, amount=_amount(rng), currency="EUR")
            _attribute(deal, rng.choice(campaigns))
        elif action == 5 and attributed():  # the attribution removed, the deal kept
            rng.choice(attributed()).delete()
        elif action == 6 and live_deals():  # the deal deleted: Django deletes its attribution first
            rng.choice(live_deals()).delete()
        elif action == 7 and attributed():  # raw SQL deleting the deal before its attribution
            row = rng.choice(attributed())
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("DELETE FROM deals_deal WHERE id = %s", [row.deal_id])
                cursor.execute("DELETE FROM campaigns_dealattribution WHERE id = %s", [row.pk])
                # The factory's first stage change: the foreign keys are checked at the end.
                cursor.execute("DELETE FROM deals_stagechange WHERE deal_id = %s", [row.deal_id])
        elif action == 8 and live_deals():  # a write that rolls back
            deal = rng.choice(live_deals())
            with pytest.raises(RuntimeError), transaction.atomic():
                Deal.objects.filter(pk=deal.pk).update(amount=deal.amount + 1, currency="GBP")
                raise RuntimeError
        _assert_exact()
    assert not CampaignDealTotal.objects.filter(deals=0).exists()


def test_a_deleted_campaign_leaves_no_totals(owner):
    pipeline = make_pipeline()
    doomed, kept = campaign(owner), campaign(owner)
    _attribute(DealFactory(owner=owner, pipeline=pipeline), doomed)
    _attribute(DealFactory(owner=owner, pipeline=pipeline), kept)
    doomed.delete()
    _assert_exact()
    assert list(CampaignDealTotal.objects.values_list("campaign_id", flat=True)) == [kept.pk]


def test_an_update_of_other_columns_writes_no_total(owner):
    deal = DealFactory(owner=owner, pipeline=make_pipeline())
    _attribute(deal, campaign(owner))
    before = list(CampaignDealTotal.objects.values_list("id", "deals", "amount_sum"))
    Deal.objects.filter(pk=deal.pk).update(last_activity_at=timezone.now(), title="Renamed", version=7)
    DealAttribution.objects.filter(deal=deal).update(created_at=timezone.now())
    assert list(CampaignDealTotal.objects.values_list("id", "deals", "amount_sum")) == before


def test_a_won_deal_is_grouped_by_its_close_day_in_the_time_zone(owner, settings):
    """TIME_ZONE is the day a rate is read for: 23:30 UTC on 31 March is 1 April in Berlin."""
    deal = DealFactory(owner=owner, pipeline=make_pipeline(), amount=Decimal("250.00"))
    spring = campaign(owner)
    _attribute(deal, spring)
    Deal.objects.filter(pk=deal.pk).update(
        status=DealStatus.WON, closed_at=dt.datetime(2026, 3, 31, 23, 30, tzinfo=dt.UTC)
    )
    row = CampaignDealTotal.objects.get(campaign=spring)
    expected = timezone.localdate(dt.datetime(2026, 3, 31, 23, 30, tzinfo=dt.UTC))
    assert (row.status, row.closed_on, row.deals, row.amount_sum) == ("won", expected, 1, Decimal("250.00"))
    # Its close time corrected (still won): the money moves to the new day.
    Deal.objects.filter(pk=deal.pk).update(closed_at=dt.datetime(2026, 5, 4, 12, tzinfo=dt.UTC))
    assert list(CampaignDealTotal.objects.values_list("closed_on", "deals")) == [(dt.date(2026, 5, 4), 1)]
    _assert_exact()


def test_rebuild_refills_the_totals_and_truncate_empties_them(owner):
    pipeline = make_pipeline()
    spring = campaign(owner)
    for deal in DealFactory.create_batch(3, owner=owner, pipeline=pipeline, currency="EUR"):
        _attribute(deal, spring)
    CampaignDealTotal.objects.all().delete()
    assert totals.differences()
    call_command("rebuild_campaign_totals", stdout=io.StringIO())
    _assert_exact()
    assert CampaignDealTotal.objects.get().deals == 3
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("TRUNCATE campaigns_dealattribution")
    assert not CampaignDealTotal.objects.exists()


def test_the_loop_from_the_totals_is_the_loop_of_the_deals(owner):
    """Open pipeline, won revenue and counts of three campaigns, read from the rollup, equal
    the figures summed from their deals (all in the base currency: no rates involved)."""
    pipeline = make_pipeline()
    rng = random.Random(7)
    campaigns = [campaign(owner) for _ in range(3)]
    for _ in range(12):
        deal = DealFactory(owner=owner, pipeline=pipeline, amount=_amount(rng))
        _attribute(deal, rng.choice(campaigns))
        status = rng.choice([DealStatus.OPEN, DealStatus.WON, DealStatus.LOST])
        if status != DealStatus.OPEN:
            Deal.objects.filter(pk=deal.pk).update(status=status, closed_at=timezone.now())
    loops = selectors.loops(Campaign.objects.filter(pk__in=[c.pk for c in campaigns]))
    for item in campaigns:
        created = Deal.objects.filter(attribution__created_by_campaign=item)
        loop = loops[item.pk]
        assert loop.deals_created == created.count()
        assert loop.open_deals == created.filter(status=DealStatus.OPEN).count()
        assert loop.won_deals == created.filter(status=DealStatus.WON).count()
        assert loop.pipeline == sum((d.amount for d in created.filter(status=DealStatus.OPEN)), Decimal("0"))
        assert loop.won_revenue == sum((d.amount for d in created.filter(status=DealStatus.WON)), Decimal("0"))
