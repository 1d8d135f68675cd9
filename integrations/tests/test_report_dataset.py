"""Business events in the report builder: registered by integrations, scoped by customer owner."""

import datetime as dt

from django.urls import reverse
from django.utils import timezone

from contacts.models import Company
from integrations.models import BusinessEvent, EventType


def _event(company, number: int, event_type) -> BusinessEvent:
    return BusinessEvent.objects.create(
        source="erp",
        external_id=str(number),
        type=event_type,
        occurred_at=timezone.now() - dt.timedelta(days=1),
        title=f"Invoice {number}",
        company=company,
    )


def test_business_events_count_only_the_customers_one_may_see(owner, outsider, owner_client, admin_client):
    invoice = EventType.objects.create(key="invoice", name="Invoice paid")
    mine = Company.objects.create(name="Mine", owner=owner)
    theirs = Company.objects.create(name="Theirs", owner=outsider)
    _event(mine, 1, invoice)
    _event(mine, 2, invoice)
    _event(theirs, 3, invoice)
    _event(None, 4, invoice)  # unmatched: no owner, admins only
    url = reverse("reports:builder")
    params = {"dataset": "business_events", "dim1": "type", "dim2": "month"}
    rows = owner_client.get(url, params).context["result"].rows
    assert [(row.label, row.total.value) for row in rows] == [("Invoice paid", 2)]
    rows = admin_client.get(url, params).context["result"].rows
    assert [(row.label, row.total.value) for row in rows] == [("Invoice paid", 4)]
