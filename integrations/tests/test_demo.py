"""seed_demo's business events: types, events on Alice's companies, in their customer value."""

import io

from django.core.management import call_command

from integrations.models import BusinessEvent, EventType, RevenueEffect
from reports.models import CustomerValue


def test_seed_demo_adds_event_types_and_events_once(db, settings):
    settings.DEBUG = True
    call_command("seed_demo", stdout=io.StringIO())
    effects = dict(EventType.objects.values_list("key", "revenue_effect"))
    assert effects == {
        "invoice_paid": RevenueEffect.REVENUE,
        "refund_issued": RevenueEffect.REFUND,
        "ticket_opened": RevenueEffect.NONE,
        "shipment_sent": RevenueEffect.NONE,
        "freight_billed": RevenueEffect.COST,
    }
    events = BusinessEvent.objects.all()
    assert events.filter(source="erp", type__key="invoice_paid", company__owner__username="alice").count() == 18
    assert events.filter(type__key="refund_issued").count() == 1
    assert events.filter(source="helpdesk").count() == 6
    assert list(events.filter(company__isnull=True).values_list("external_id", flat=True)) == ["INV-UNKNOWN-1"]
    # The big-revenue-but-unprofitable customer's freight bills, matched (sent as an admin).
    freight = events.filter(type__key="freight_billed")
    assert freight.count() == 8 and freight.filter(company__isnull=True).count() == 0
    # The customer value was recomputed after the events: their companies show revenue from them.
    with_events = CustomerValue.objects.filter(revenue_external__gt=0)
    assert with_events.count() == 6
    total = events.count()
    call_command("seed_demo", stdout=io.StringIO())
    assert BusinessEvent.objects.count() == total
