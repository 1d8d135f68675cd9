"""Demo business event types and a few events other systems "sent" for demo customers (runs
after reports in seed_demo, so it recomputes customer value to include the revenue events)."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from django.utils import timezone

from contacts.models import Company
from crm.demo import DemoPeople
from integrations.events import events_ingest
from integrations.models import BusinessEvent, EventType, RevenueEffect
from reports.services import customer_value_recompute

# (key, name, Bootstrap icon, colour, revenue effect). Keys are slugs: what senders put in "type".
DEMO_TYPES = [
    ("invoice_paid", "Invoice paid", "bi-receipt", "#198754", RevenueEffect.REVENUE),
    ("refund_issued", "Refund issued", "bi-arrow-return-left", "#dc3545", RevenueEffect.REFUND),
    ("ticket_opened", "Support ticket opened", "bi-life-preserver", "#0d6efd", RevenueEffect.NONE),
    ("shipment_sent", "Shipment sent", "bi-truck", "#6f42c1", RevenueEffect.NONE),
    ("freight_billed", "Freight billed", "bi-box-seam", "#fd7e14", RevenueEffect.COST),
]


def event_types_ensure() -> dict[str, EventType]:
    types = {}
    for key, name, icon, color, effect in DEMO_TYPES:
        types[key], _created = EventType.objects.get_or_create(
            key=key, defaults={"name": name, "icon": icon, "color": color, "revenue_effect": effect}
        )
    return types


def seed(*, people: DemoPeople) -> None:
    event_types_ensure()
    added = _customer_events(people)
    added = _freight_costs(people) or added
    if added:
        customer_value_recompute()


def _customer_events(people: DemoPeople) -> bool:
    """Invoices, a refund and tickets for alice's customers, and one event nobody matches."""
    if BusinessEvent.objects.filter(source__in=["erp", "helpdesk"]).exclude(external_id__startswith="FRT-").exists():
        return False
    rng = random.Random(16)
    now = timezone.now()
    companies = list(Company.objects.filter(owner=people.alice, archived_at__isnull=True).order_by("id")[:6])
    items = []
    for n, company in enumerate(companies):
        for i in range(3):
            at = now - dt.timedelta(days=30 * (i + 1) + rng.randint(0, 20))
            amount = Decimal(rng.choice([450, 1200, 2400, 3800]))
            items.append(
                {
                    "source": "erp",
                    "external_id": f"INV-{company.pk}-{i + 1}",
                    "type": "invoice_paid",
                    "occurred_at": at,
                    "title": f"Invoice {1000 + n * 10 + i} paid",
                    "amount": amount,
                    "currency": "EUR" if n % 2 else "USD",
                    "customer": {"id": str(company.pk)},
                    "data": {"invoice": f"{1000 + n * 10 + i}", "lines": rng.randint(1, 6), "terms": "30 days"},
                }
            )
        items.append(
            {
                "source": "helpdesk",
                "external_id": f"T-{company.pk}",
                "type": "ticket_opened",
                "occurred_at": now - dt.timedelta(days=rng.randint(1, 20)),
                "title": "Ticket: cannot sign in",
                "customer": {"id": str(company.pk)},
                "data": {"priority": "high", "channel": "email"},
            }
        )
    if companies:
        first = companies[0]
        items.append(
            {
                "source": "erp",
                "external_id": f"CN-{first.pk}-1",
                "type": "refund_issued",
                "occurred_at": now - dt.timedelta(days=10),
                "title": "Credit note for a returned seat",
                "amount": Decimal("450"),
                "currency": "USD",
                "customer": {"id": str(first.pk)},
                "data": {"reason": "returned"},
            }
        )
    # One the CRM cannot match: it waits on the Unmatched events page.
    items.append(
        {
            "source": "erp",
            "external_id": "INV-UNKNOWN-1",
            "type": "invoice_paid",
            "occurred_at": now - dt.timedelta(days=2),
            "title": "Invoice 9001 paid",
            "amount": Decimal("990"),
            "currency": "USD",
            "customer": {"domain": "newcustomer.example"},
            "data": {"invoice": "9001"},
        }
    )
    events_ingest(user=people.alice, items=items, invalid={})
    return True


def _freight_costs(people: DemoPeople) -> bool:
    """The big-revenue-but-unprofitable customer's hardware ships by express freight, billed to
    us: cost events (sent by an admin's integration, which sees every customer)."""
    if BusinessEvent.objects.filter(source="erp", external_id__startswith="FRT-").exists():
        return False
    whale = Company.objects.filter(deals__line_items__product__sku="DEMO-HW").distinct().first()
    if whale is None:
        return False
    now = timezone.now()
    items = [
        {
            "source": "erp",
            "external_id": f"FRT-{whale.pk}-{i + 1}",
            "type": "freight_billed",
            "occurred_at": now - dt.timedelta(days=15 + i * 80),
            "title": f"Express freight, shipment {7100 + i}",
            "amount": Decimal("1850.00"),
            "currency": "USD",
            "customer": {"id": str(whale.pk)},
            "data": {"carrier": "express", "pallets": 2},
        }
        for i in range(8)
    ]
    events_ingest(user=people.admin, items=items, invalid={})
    return True
