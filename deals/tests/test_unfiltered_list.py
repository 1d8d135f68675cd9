"""The deal list with no filter reads its first page and its totals with SQL compiled once per
process (``deals.selectors.unfiltered_list_page``, the stored totals of every visible deal):
the same rows and sums as the queries built for the viewer, and each viewer's own access."""

from decimal import Decimal

import pytest
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from crm.backends import load_request_user
from crm.rows import list_rows
from deals import selectors
from deals.forms import SORTS
from deals.models import Deal, DealStatus
from deals.tests.factories import CompanyFactory, DealFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def deals(owner, teammate, outsider, pipeline):
    won = pipeline.stages.get(is_won=True)
    for n in range(9):
        person = (owner, teammate, outsider)[n % 3]
        extra = {"company": CompanyFactory(owner=person)} if n % 2 else {}
        if n % 4 == 3:
            extra.update(stage=won, status=DealStatus.WON, closed_at=timezone.now())
        DealFactory(
            owner=person, pipeline=pipeline, title=f"Deal {n:02d}", amount=Decimal(100 + n), currency="USD", **extra
        )


@pytest.mark.parametrize("who", ["owner", "teammate", "outsider", "manager", "admin_user"])
def test_the_compiled_first_page_and_totals_are_what_the_built_queries_find(request, deals, who):
    user = load_request_user(request.getfixturevalue(who).pk)
    visible = Deal.objects.visible_to(user)
    for sort, order in SORTS.items():
        for custom in (False, True):
            fields = selectors.LIST_ROW_FIELDS + (("custom",) if custom else ())
            built = list(list_rows(visible.order_by(*order), fields)[:4])
            assert selectors.unfiltered_list_page(user, order, custom=custom, size=4) == built, sort
    compiled = selectors.stored_money_totals(user, Q())[None]
    built = selectors.money_total(visible)
    assert (compiled.count, compiled.amount, compiled.weighted) == (built.count, built.amount, built.weighted)
    assert compiled.count == visible.count()


def test_each_viewer_sees_only_their_deals_on_the_unfiltered_list(deals, owner_client, outsider_client, admin_client):
    url = reverse("deals:list")
    north = owner_client.get(url, {"view": "all"})
    south = outsider_client.get(url, {"view": "all"})
    everyone = admin_client.get(url, {"view": "all"})
    titles = {n: f"Deal {n:02d}" for n in range(9)}
    north_titles = {t for n, t in titles.items() if n % 3 != 2}
    south_titles = {t for n, t in titles.items() if n % 3 == 2}
    assert {row["title"] for row in north.context["page"]} == north_titles
    assert {row["title"] for row in south.context["page"]} == south_titles
    assert {row["title"] for row in everyone.context["page"]} == set(titles.values())
    assert north.context["total"].count == len(north_titles)
    assert south.context["total"].count == len(south_titles)


def test_a_filtered_or_later_page_is_not_the_compiled_first_page(deals, owner_client, owner):
    """A filter, and any page after the first, are read by the built query."""
    url = reverse("deals:list")
    shown = owner_client.get(url, {"view": "all", "sort": "title"}).context["page"]
    assert [row["title"] for row in shown] == ["Deal 00", "Deal 01", "Deal 03", "Deal 04", "Deal 06", "Deal 07"]
    won = owner_client.get(url, {"view": "all", "status": "won", "sort": "title"}).context["page"]
    assert [row["title"] for row in won] == ["Deal 03", "Deal 07"]
    mine = Deal.objects.filter(owner=owner).first()
    Deal.objects.bulk_create(
        [Deal(owner=owner, pipeline=mine.pipeline, stage=mine.stage, title=f"More {n:02d}") for n in range(50)]
    )
    second = owner_client.get(url, {"view": "all", "sort": "title", "page": 2}).context["page"]
    assert second.number == 2
    assert [row["title"] for row in second][:2] == ["More 44", "More 45"]
