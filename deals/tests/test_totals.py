"""The stored deal totals (``DealTotal``, kept by triggers) against sums of the deals.

The property: whatever sequence of writes — services, ``QuerySet.update``, COPY, deletes,
merges, rollbacks — the table equals a fresh GROUP BY of ``deals_deal``. And the pages that read
it show the same figures as summing the rows (``money_totals``) for a rep, a manager and an
admin, with and without filters.
"""

from __future__ import annotations

import datetime as dt
import io
import random
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.db.models import Q
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from crm.bulk import copy_instances
from crm.tests.factories import UserFactory
from deals import merge, selectors, services, totals
from deals.forms import DealFilterForm
from deals.models import ClosedDealTotal, Deal, DealStatus, DealTotal, ExchangeRate, Stage
from deals.tests.factories import CompanyFactory, DealFactory, LostReasonFactory, make_pipeline


def _assert_exact() -> None:
    assert totals.differences() == []
    assert totals.CLOSED_ROLLUP.differences() == []


def _same(a: selectors.MoneyTotal, b: selectors.MoneyTotal) -> None:
    assert (a.count, a.amount, a.weighted, a.by_currency, a.missing_rates) == (
        b.count,
        b.amount,
        b.weighted,
        b.by_currency,
        b.missing_rates,
    )


@pytest.fixture
def rates(db):
    ExchangeRate.objects.create(currency="EUR", date=dt.date(2020, 1, 1), rate=Decimal("1.1000"))
    ExchangeRate.objects.create(currency="EUR", date=dt.date(2025, 6, 1), rate=Decimal("1.0731"))
    ExchangeRate.objects.create(currency="EUR", date=timezone.localdate().replace(day=1), rate=Decimal("1.0917"))


# --- the property --------------------------------------------------------------------------


def _random_amount(rng: random.Random) -> Decimal:
    return Decimal(rng.randint(0, 5_000_000)) / 100


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_after_random_writes_the_totals_equal_a_fresh_group_by(seed, owner, teammate, outsider, manager, rates):
    rng = random.Random(seed)
    sales = make_pipeline("Sales")
    other = make_pipeline("Renewals", default=False)
    people = [owner, teammate, outsider, manager]
    companies = [CompanyFactory(owner=owner) for _ in range(3)]
    reason = LostReasonFactory()
    stages = {p.pk: list(p.stages.order_by("position")) for p in (sales, other)}
    for _ in range(12):
        DealFactory(
            owner=rng.choice(people),
            pipeline=sales,
            amount=_random_amount(rng),
            currency=rng.choice(["USD", "EUR", "GBP"]),
            company=rng.choice(companies),
        )
    _assert_exact()

    def live() -> list[Deal]:
        return list(Deal.objects.select_related("stage", "pipeline").order_by("pk"))

    for step in range(40):
        current = live()
        deal = rng.choice(current) if current else None
        action = rng.choice(
            [
                "create",
                "edit",
                "move",
                "won",
                "lost",
                "reopen",
                "delete",
                "bulk_owner",
                "bulk_amount",
                "merge",
                "copy",
                "rollback",
                "closed_month",
            ]
        )
        if deal is None or action == "create":
            pipeline = rng.choice([sales, other])
            new = Deal(
                title=f"New {step}",
                owner=rng.choice(people),
                pipeline=pipeline,
                stage=rng.choice([s for s in stages[pipeline.pk] if not s.is_closed]),
                amount=_random_amount(rng),
                currency=rng.choice(["USD", "EUR"]),
            )
            services.deal_create(deal=new, actor=owner)
        elif action == "edit":
            pipeline = rng.choice([sales, other])
            data = {
                "amount": _random_amount(rng),
                "currency": rng.choice(["USD", "EUR", "GBP"]),
                "probability": rng.randint(0, 100),
                "probability_is_manual": rng.random() < 0.5,
                "owner": rng.choice(people),
                "pipeline": pipeline,
                "stage": rng.choice([s for s in stages[pipeline.pk] if not s.is_lost]),
            }
            services.deal_update(deal=deal, actor=owner, version=None, data=data)
        elif action == "move" and deal.is_open:
            open_stages = [s for s in stages[deal.pipeline_id] if not s.is_closed and s.pk != deal.stage_id]
            services.deal_move_stage(deal=deal, stage=rng.choice(open_stages), actor=owner)
        elif action == "won" and deal.is_open:
            services.deal_mark_won(deal=deal, actor=owner)
        elif action == "lost" and deal.is_open:
            services.deal_mark_lost(deal=deal, actor=owner, lost_reason=reason)
        elif action == "reopen" and not deal.is_open:
            services.deal_reopen(deal=deal, actor=owner)
        elif action == "delete":
            deal.delete()
        elif action == "bulk_owner":
            Deal.objects.filter(owner=rng.choice(people)).update(owner=rng.choice(people))
        elif action == "bulk_amount":
            Deal.objects.filter(pk__in=[d.pk for d in current[::2]]).update(amount=_random_amount(rng))
        elif action == "merge":
            loser, survivor = rng.sample(companies, 2)
            moved = merge.company_move(loser=loser, survivor=survivor)
            if rng.random() < 0.5:
                merge.company_restore(loser=loser, survivor=survivor, moved=moved)
        elif action == "copy":
            rows = [
                Deal(
                    title=f"Imported {step}.{i}",
                    owner=rng.choice(people),
                    pipeline=sales,
                    stage=stages[sales.pk][0],
                    amount=_random_amount(rng),
                    currency="EUR",
                    probability=10,
                    updated_at=timezone.now(),
                )
                for i in range(3)
            ]
            copy_instances(Deal, rows)
        elif action == "rollback":
            with transaction.atomic():
                Deal.objects.update(amount=Decimal("1"), owner=owner)
                services.deal_create(
                    deal=Deal(title="Gone", owner=owner, pipeline=sales, stage=stages[sales.pk][0]), actor=owner
                )
                transaction.set_rollback(True)
        elif action == "closed_month" and not deal.is_open:
            # A close date at a month boundary moves the deal to another rate month.
            edge = dt.datetime(2025, rng.randint(1, 12), 1, tzinfo=dt.UTC) - dt.timedelta(microseconds=1)
            Deal.objects.filter(pk=deal.pk).update(closed_at=edge + dt.timedelta(microseconds=rng.randint(0, 1)))
        _assert_exact()

    assert DealTotal.objects.filter(count=0).count() == 0
    assert ClosedDealTotal.objects.filter(count=0).count() == 0
    assert not ClosedDealTotal.objects.filter(status=DealStatus.OPEN).exists()


def test_rebuild_refills_the_totals_and_truncate_empties_them(owner, rates):
    pipeline = make_pipeline()
    DealFactory.create_batch(3, owner=owner, pipeline=pipeline, currency="EUR")
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM deals_dealtotal")
    assert totals.differences()
    totals.rebuild()
    _assert_exact()
    assert DealTotal.objects.get().count == 3
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("TRUNCATE deals_deal CASCADE")
    assert not DealTotal.objects.exists()
    assert not ClosedDealTotal.objects.exists()


def test_the_closed_totals_are_every_owners_closed_deals(owner, teammate, rates):
    pipeline = make_pipeline()
    won = [
        DealFactory(owner=person, pipeline=pipeline, currency="EUR", amount=Decimal("100"))
        for person in (owner, teammate)
    ]
    DealFactory(owner=owner, pipeline=pipeline, currency="EUR", amount=Decimal("7"))  # open: not counted
    for deal in won:
        services.deal_mark_won(deal=deal, actor=deal.owner)
    row = ClosedDealTotal.objects.get()
    assert (row.status, row.currency, row.count, row.amount_sum) == ("won", "EUR", 2, Decimal("200.00"))
    services.deal_reopen(deal=won[0], actor=owner)
    assert ClosedDealTotal.objects.get().count == 1
    _assert_exact()


def test_an_admins_unfiltered_totals_read_the_closed_totals(owner, admin_user, rates):
    pipeline = make_pipeline()
    deal = DealFactory(owner=owner, pipeline=pipeline, currency="USD", amount=Decimal("100"))
    services.deal_mark_won(deal=deal, actor=owner)
    DealFactory(owner=owner, pipeline=pipeline, currency="USD", amount=Decimal("5"))
    assert selectors.stored_money_totals(admin_user, Q())[None].amount == Decimal("105.00")
    # Changed behind the triggers' back, the stored row shows: the admin's sum reads it.
    ClosedDealTotal.objects.update(amount_sum=Decimal("1000"))
    assert selectors.stored_money_totals(admin_user, Q())[None].amount == Decimal("1005.00")
    assert selectors.stored_money_totals(owner, Q())[None].amount == Decimal("105.00")  # a rep's: DealTotal


def test_an_update_of_other_columns_writes_no_total(owner):
    deal = DealFactory(owner=owner)
    before = list(DealTotal.objects.values_list("id", "count", "amount_sum"))
    Deal.objects.filter(pk=deal.pk).update(last_activity_at=timezone.now(), title="Renamed", version=7)
    assert list(DealTotal.objects.values_list("id", "count", "amount_sum")) == before


# --- the pages show the row sums -------------------------------------------------------------


@pytest.fixture
def book_of_deals(owner, teammate, outsider, manager, rates):
    """Deals of several owners in two pipelines, open and closed in several months, in USD,
    EUR and GBP (no rate)."""
    rng = random.Random(7)
    sales, renewals = make_pipeline("Sales"), make_pipeline("Renewals", default=False)
    reason = LostReasonFactory()
    company = CompanyFactory(owner=owner)
    for i in range(60):
        pipeline = rng.choice([sales, renewals])
        deal = DealFactory(
            owner=rng.choice([owner, teammate, outsider, manager]),
            pipeline=pipeline,
            amount=_random_amount(rng),
            currency=rng.choice(["USD", "EUR", "EUR", "GBP"]),
            expected_close_date=timezone.localdate() + dt.timedelta(days=rng.randint(-40, 40)),
            company=company if i % 5 == 0 else None,
        )
        outcome = rng.random()
        if outcome < 0.25:
            services.deal_mark_won(deal=deal, actor=deal.owner)
        elif outcome < 0.4:
            services.deal_mark_lost(deal=deal, actor=deal.owner, lost_reason=reason)
        elif outcome < 0.7:
            later = [s for s in pipeline.stages.order_by("position") if not s.is_closed][1:]
            services.deal_move_stage(deal=deal, stage=rng.choice(later), actor=deal.owner)
        if not deal.is_open or outcome < 0.4:
            month = dt.datetime(2025, rng.randint(1, 12), rng.randint(1, 28), tzinfo=dt.UTC)
            Deal.objects.filter(pk=deal.pk, closed_at__isnull=False).update(closed_at=month)
    return {"sales": sales, "renewals": renewals, "company": company}


def _list_filters(book, owner, manager) -> list[dict]:
    sales = book["sales"]
    proposal = Stage.objects.get(pipeline=sales, name="Proposal")
    team = owner.teams.get()
    return [
        {},
        {"status": "open"},
        {"status": "won"},
        {"pipeline": sales.pk},
        {"pipeline": sales.pk, "status": "open", "owner": owner.pk},
        {"stage": proposal.pk},
        {"team": team.pk, "status": "lost"},
        {"owner": manager.pk},
        # Filters the stored totals cannot answer: summed from the rows.
        {"q": "Deal"},
        {"amount_min": "1000", "status": "open"},
        {"close_from": timezone.localdate().isoformat()},
        {"company": book["company"].pk},
    ]


@pytest.mark.parametrize("who", ["owner", "manager", "admin_user"])
def test_the_list_total_is_the_sum_of_the_matching_rows(request, who, book_of_deals, owner, manager):
    user = request.getfixturevalue(who)
    client = request.getfixturevalue({"owner": "owner_client", "manager": "manager_client"}.get(who, "admin_client"))
    for params in _list_filters(book_of_deals, owner, manager):
        response = client.get(reverse("deals:list"), params)
        form = DealFilterForm(params, user=user)
        expected = selectors.money_total(form.apply(selectors.deals_for_user(user)))
        _same(response.context["total"], expected)
        assert response.context["page"].paginator.count == expected.count
        assert (form.totals_where() is None) == any(k in params for k in ("q", "amount_min", "close_from", "company"))


@pytest.mark.parametrize("who", ["owner", "manager", "admin_user"])
def test_board_columns_are_the_sums_of_their_rows(request, who, book_of_deals, owner, teammate):
    user = request.getfixturevalue(who)
    client = request.getfixturevalue({"owner": "owner_client", "manager": "manager_client"}.get(who, "admin_client"))
    team = owner.teams.get()
    for pipeline in (book_of_deals["sales"], book_of_deals["renewals"]):
        for params in ({}, {"owner": teammate.pk}, {"team": team.pk}):
            columns = client.get(reverse("deals:board", args=[pipeline.pk]), params).context["columns"]
            rows = Deal.objects.visible_to(user).filter(pipeline=pipeline, status=DealStatus.OPEN)
            if "owner" in params:
                rows = rows.filter(owner_id=params["owner"])
            if "team" in params:
                rows = rows.filter(owner__in=team.members.all())
            expected = selectors.money_totals(rows, group_by="stage_id")
            assert columns
            for column in columns:
                _same(column.total, expected.get(column.stage.pk, selectors.MoneyTotal()))


def test_the_column_heads_after_a_move_are_the_sums_of_their_rows(owner_client, owner, book_of_deals):
    sales = book_of_deals["sales"]
    deal = Deal.objects.filter(owner=owner, pipeline=sales, status=DealStatus.OPEN).first()
    target = Stage.objects.filter(pipeline=sales, is_won=False, is_lost=False).exclude(pk=deal.stage_id).first()
    old = deal.stage_id
    response = owner_client.post(reverse("deals:move", args=[deal.pk]), {"stage": target.pk}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    rows = Deal.objects.visible_to(owner).filter(pipeline=sales, status=DealStatus.OPEN)
    expected = selectors.money_totals(rows, group_by="stage_id")
    heads = {head.stage.pk: head.total for head in response.context["heads"]}
    assert set(heads) == {old, target.pk}
    for stage_id, total in heads.items():
        _same(total, expected.get(stage_id, selectors.MoneyTotal()))


@pytest.mark.parametrize("who", ["owner", "teammate", "manager"])
def test_the_home_panel_is_the_sum_of_the_users_open_deals(request, who, book_of_deals):
    user = request.getfixturevalue(who)
    panel = selectors.open_deals_summary(user)
    today = timezone.localdate()
    month_start = today.replace(day=1)
    next_month = (month_start + dt.timedelta(days=32)).replace(day=1)
    mine = Deal.objects.filter(owner=user, status=DealStatus.OPEN)
    open_total = selectors.money_total(mine)
    closing = selectors.money_total(
        mine.filter(expected_close_date__gte=month_start, expected_close_date__lt=next_month)
    )
    assert open_total.count
    assert (panel["open"].count, panel["open"].amount, panel["open"].weighted) == (
        open_total.count,
        open_total.amount,
        open_total.weighted,
    )
    _same(panel["closing"], closing)


def test_the_home_panel_is_one_query_and_the_rates(owner, book_of_deals, django_assert_num_queries):
    request = RequestFactory().get("/")
    request.user = owner
    with django_assert_num_queries(2):  # the totals, and the exchange rates for the EUR deals
        selectors.home_panel_context(request)


def test_a_user_without_deals_gets_empty_totals(db):
    nobody = UserFactory()
    panel = selectors.open_deals_summary(nobody)
    assert (panel["open"].count, panel["closing"].count) == (0, 0)


def test_the_rebuild_command_refills_the_totals(owner):
    for deal in DealFactory.create_batch(2, owner=owner):
        services.deal_mark_won(deal=deal, actor=owner)
    DealFactory(owner=owner)
    DealTotal.objects.all().delete()
    ClosedDealTotal.objects.all().delete()
    call_command("rebuild_deal_totals", stdout=io.StringIO())
    _assert_exact()


@pytest.mark.parametrize("who", ["owner", "manager"])
def test_totals_of_loaded_deals_are_the_sql_totals(request, who, book_of_deals):
    """The customer panel sums the open deals it has already loaded (``money_total_of``):
    the same figures to the cent as the SQL sums, in every currency and month of the rates."""
    user = request.getfixturevalue(who)
    for qs in (Deal.objects.visible_to(user).filter(status=DealStatus.OPEN), Deal.objects.visible_to(user)):
        loaded = selectors.money_total_of(list(qs))
        assert loaded.count
        _same(loaded, selectors.money_total(qs))
