"""Two people editing the same line item: the second save gets a 409 with the differences."""

from decimal import Decimal

import pytest
from django.urls import reverse

from crm.tests.forms import posted_data
from deals import services
from deals.tests.factories import ProductFactory


@pytest.fixture
def item(deal, owner):
    product = ProductFactory(name="Robot arm", price=Decimal("250"))
    return services.line_item_add(deal=deal, actor=owner, product=product, quantity=Decimal("2"))


def test_the_second_of_two_line_item_edits_conflicts_then_saves_on_purpose(owner_client, manager_client, deal, item):
    url = reverse("deals:line-item-edit", args=[deal.pk, item.pk])
    mine = owner_client.get(url)
    first = manager_client.post(url, posted_data(manager_client.get(url), quantity="5"))
    assert first.status_code == 302

    second = owner_client.post(url, posted_data(mine, discount_percent="10"))

    assert second.status_code == 409
    body = second.content.decode()
    assert "Quantity" in body and "5.00" in body and "Save mine anyway" in body
    item.refresh_from_db()
    assert (item.quantity, item.discount_percent) == (Decimal("5.00"), Decimal("0.00"))

    again = owner_client.post(url, posted_data(second))
    assert again.status_code == 302
    item.refresh_from_db()
    assert (item.quantity, item.discount_percent, item.version) == (Decimal("2.00"), Decimal("10.00"), 3)


@pytest.mark.parametrize(("who", "status"), [("teammate", 403), ("outsider", 404)])
def test_a_stale_line_item_form_still_respects_access(request, owner_client, deal, item, who, status):
    url = reverse("deals:line-item-edit", args=[deal.pk, item.pk])
    loaded = posted_data(owner_client.get(url), quantity="9")
    assert request.getfixturevalue(f"{who}_client").post(url, loaded).status_code == status
    item.refresh_from_db()
    assert item.quantity == Decimal("2.00")
