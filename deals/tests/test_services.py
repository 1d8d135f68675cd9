from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction

from contacts.signals import customer_event
from crm.models import Outbox
from crm.services import outbox_enqueue
from deals import services
from deals.models import Deal, DealStatus, StageChange
from deals.signals import deal_stage_changed
from deals.tests.factories import (
    CompanyFactory,
    DealFactory,
    LostReasonFactory,
    ProductFactory,
    make_pipeline,
    stage,
)


@pytest.fixture
def pipeline(db):
    return make_pipeline()


@pytest.fixture
def deal(owner, pipeline):
    return DealFactory(owner=owner, pipeline=pipeline, company=CompanyFactory(owner=owner))


@pytest.fixture
def events():
    received = []

    def receiver(sender, **kwargs):
        received.append(kwargs)

    customer_event.connect(receiver, weak=False)
    yield received
    customer_event.disconnect(receiver)


def test_create_writes_the_first_stage_change_from_nowhere(owner, pipeline):
    deal = Deal(title="New", owner=owner, pipeline=pipeline, stage=stage(pipeline, "Qualified"), currency="USD")
    services.deal_create(deal=deal, actor=owner)
    change = StageChange.objects.get(deal=deal)
    assert change.from_stage is None
    assert change.to_stage.name == "Qualified"
    assert deal.probability == 25
    assert deal.history.count() == 1


def test_a_move_writes_history_and_sets_probability_from_the_stage(deal, owner, pipeline, events):
    moved = services.deal_move_stage(deal=deal, stage=stage(pipeline, "Proposal"), actor=owner)
    deal.refresh_from_db()
    assert deal.stage.name == "Proposal"
    assert deal.probability == 50
    assert deal.version == moved.version == 2
    last = StageChange.objects.filter(deal=deal).latest("at", "id")
    assert (last.from_stage.name, last.to_stage.name, last.actor) == ("Lead", "Proposal", owner)
    assert deal.history.first().history_change_reason == "Moved from Lead to Proposal"
    assert [e["kind"] for e in events] == ["stage_change"]
    assert events[0]["company"] == deal.company


def test_a_manual_probability_survives_stage_moves(deal, owner, pipeline):
    services.deal_update(
        deal=deal, actor=owner, version=deal.version, data={"probability": 33, "probability_is_manual": True}
    )
    services.deal_move_stage(deal=deal, stage=stage(pipeline, "Negotiation"), actor=owner)
    deal.refresh_from_db()
    assert (deal.probability, deal.probability_is_manual) == (33, True)


def test_a_probability_not_marked_manual_follows_the_stage(deal, owner, pipeline):
    services.deal_update(deal=deal, actor=owner, version=deal.version, data={"probability": 33})
    deal.refresh_from_db()
    assert deal.probability == 10
    services.deal_move_stage(deal=deal, stage=stage(pipeline, "Negotiation"), actor=owner)
    deal.refresh_from_db()
    assert deal.probability == 75


def test_lost_requires_a_reason(deal, owner, pipeline):
    with pytest.raises(ValidationError) as excinfo:
        services.deal_move_stage(deal=deal, stage=stage(pipeline, "Lost"), actor=owner)
    assert "lost_reason" in excinfo.value.message_dict
    deal.refresh_from_db()
    assert deal.status == DealStatus.OPEN
    assert StageChange.objects.filter(deal=deal).count() == 1


def test_lost_with_a_reason_closes_the_deal_and_keeps_the_reason_on_the_move(deal, owner, events):
    reason = LostReasonFactory(name="No budget")
    services.deal_mark_lost(deal=deal, actor=owner, lost_reason=reason, lost_note="Budget frozen until Q3")
    deal.refresh_from_db()
    assert deal.status == DealStatus.LOST
    assert deal.closed_at is not None
    assert deal.lost_reason == reason
    assert deal.probability == 0
    last = StageChange.objects.filter(deal=deal).latest("at", "id")
    assert (last.lost_reason, last.note) == (reason, "Budget frozen until Q3")
    assert events[-1]["kind"] == "deal_lost"


def test_won_sets_closed_at_and_reopening_is_recorded(deal, owner, pipeline, events):
    services.deal_move_stage(deal=deal, stage=stage(pipeline, "Proposal"), actor=owner)
    services.deal_mark_won(deal=deal, actor=owner)
    deal.refresh_from_db()
    assert (deal.status, deal.probability) == (DealStatus.WON, 100)
    assert deal.closed_at is not None
    services.deal_reopen(deal=deal, actor=owner)
    deal.refresh_from_db()
    assert deal.status == DealStatus.OPEN
    assert deal.closed_at is None
    assert deal.stage.name == "Proposal"
    moves = list(StageChange.objects.filter(deal=deal).values_list("from_stage__name", "to_stage__name"))
    assert moves == [(None, "Lead"), ("Lead", "Proposal"), ("Proposal", "Won"), ("Won", "Proposal")]
    assert [e["kind"] for e in events] == ["stage_change", "deal_won", "deal_reopened"]


def test_a_stage_of_another_pipeline_is_rejected(deal, owner):
    other = make_pipeline("Renewals", default=False)
    with pytest.raises(ValidationError):
        services.deal_move_stage(deal=deal, stage=stage(other, "Proposal"), actor=owner)
    deal.refresh_from_db()
    assert deal.stage.name == "Lead"
    assert StageChange.objects.filter(deal=deal).count() == 1


def test_a_move_from_a_stage_the_deal_already_left_conflicts(deal, owner, pipeline):
    services.deal_move_stage(deal=deal, stage=stage(pipeline, "Proposal"), actor=owner)
    with pytest.raises(services.StageMoveConflict):
        services.deal_move_stage(
            deal=deal, stage=stage(pipeline, "Qualified"), actor=owner, expected_stage=stage(pipeline, "Lead")
        )
    deal.refresh_from_db()
    assert deal.stage.name == "Proposal"


def test_the_stage_changed_signal_is_sent_inside_the_moves_transaction(deal, owner, pipeline):
    """Receivers write their after-commit work to the outbox in the move's own transaction, so
    a move that is rolled back leaves no work behind and a committed one never loses it."""
    received = []

    def receiver(sender, **kwargs):
        received.append((connection.in_atomic_block, kwargs["stage_change"].pk is not None))
        outbox_enqueue(task="crm.tasks.heartbeat", args=[kwargs["deal"].pk, "test"])

    deal_stage_changed.connect(receiver, weak=False)
    try:
        with pytest.raises(RuntimeError), transaction.atomic():
            services.deal_move_stage(deal=deal, stage=stage(pipeline, "Proposal"), actor=owner)
            raise RuntimeError("the move fails after the signal")
        assert received == [(True, True)]
        assert not Outbox.objects.filter(args=[deal.pk, "test"]).exists()
        services.deal_move_stage(deal=deal, stage=stage(pipeline, "Proposal"), actor=owner)
    finally:
        deal_stage_changed.disconnect(receiver)
    assert Outbox.objects.filter(args=[deal.pk, "test"], sent_at__isnull=True).count() == 1


def test_an_edit_on_an_old_version_conflicts_and_saves_nothing(deal, owner, teammate):
    seen = deal.version
    services.deal_update(deal=deal, actor=owner, version=seen, data={"title": "Renamed", "amount": Decimal("5")})
    with pytest.raises(services.DealConflict) as excinfo:
        services.deal_update(deal=deal, actor=owner, version=seen, data={"title": "Mine", "amount": Decimal("1000")})
    changed = {c.field: c.theirs for c in excinfo.value.changes}
    assert changed == {"title": "Renamed", "amount": "5.00"}
    deal.refresh_from_db()
    assert (deal.title, deal.amount) == ("Renamed", Decimal("5.00"))


def test_an_edit_that_changes_the_stage_goes_through_the_move_rules(deal, owner, pipeline):
    with pytest.raises(ValidationError):
        services.deal_update(deal=deal, actor=owner, version=deal.version, data={"stage": stage(pipeline, "Lost")})
    services.deal_update(deal=deal, actor=owner, version=deal.version, data={"stage": stage(pipeline, "Proposal")})
    deal.refresh_from_db()
    assert deal.probability == 50
    assert StageChange.objects.filter(deal=deal, to_stage__name="Proposal").count() == 1


def test_line_items_make_the_amount_when_asked(deal, owner):
    services.deal_update(deal=deal, actor=owner, version=deal.version, data={"amount_from_line_items": True})
    product = ProductFactory(price=Decimal("200"))
    item = services.line_item_add(deal=deal, actor=owner, product=product, quantity=Decimal("3"))
    deal.refresh_from_db()
    assert deal.amount == Decimal("600.00")
    services.line_item_update(
        line_item=item, actor=owner, quantity=Decimal("2"), unit_price=Decimal("150"), discount_percent=Decimal("10")
    )
    deal.refresh_from_db()
    assert deal.amount == Decimal("270.00")
    services.line_item_remove(line_item=item, actor=owner)
    deal.refresh_from_db()
    assert deal.amount == Decimal("0.00")


def test_a_product_in_another_currency_is_priced_in_the_deals_currency(deal, owner):
    from deals.models import ExchangeRate

    ExchangeRate.objects.create(currency="EUR", date="2020-01-01", rate=Decimal("1.25"))
    product = ProductFactory(price=Decimal("100"), currency="EUR")
    item = services.line_item_add(deal=deal, actor=owner, product=product, quantity=Decimal("1"))
    assert item.unit_price == Decimal("125.00")


def test_a_quiet_deal_and_a_deal_stuck_in_its_stage_are_flagged_stale(owner, pipeline, settings):
    import datetime as dt

    from django.core.cache import cache
    from django.utils import timezone

    from deals.selectors import deal_staleness

    settings.DEAL_STALE_DAYS = 14
    now = timezone.now()
    lead = stage(pipeline, "Lead")
    # History: deals usually leave Lead after 2 days.
    for _i in range(3):
        quick = DealFactory(owner=owner, pipeline=pipeline, created_at=now - dt.timedelta(days=30))
        StageChange.objects.filter(deal=quick).update(at=now - dt.timedelta(days=30))
        StageChange.objects.create(
            deal=quick, from_stage=lead, to_stage=stage(pipeline, "Proposal"), at=now - dt.timedelta(days=28)
        )
    cache.delete(f"deals:stage-median:{pipeline.pk}")
    fresh = DealFactory(owner=owner, pipeline=pipeline)
    assert not deal_staleness(fresh)
    stuck = DealFactory(
        owner=owner,
        pipeline=pipeline,
        created_at=now - dt.timedelta(days=20),
        stage_entered_at=now - dt.timedelta(days=20),
    )
    staleness = deal_staleness(stuck)
    assert staleness.no_activity_days == 20
    assert (staleness.stuck_days, staleness.usual_days) == (20, 2)
