"""Inbound business events: idempotent ingest, batches with per-item results, matching,
the timeline and the Unmatched events page."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.urls import reverse

from activities.models import TimelineEvent
from contacts.tests.factories import CompanyFactory, ContactFactory
from integrations.models import BusinessEvent, EventType, RevenueEffect, TokenScope
from integrations.tests.conftest import token_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def invoice_type(db):
    return EventType.objects.create(key="invoice_paid", name="Invoice paid", revenue_effect=RevenueEffect.REVENUE)


def _event(n: int = 1, **overrides):
    return {
        "source": "erp",
        "external_id": f"INV-{n}",
        "type": "invoice_paid",
        "occurred_at": "2026-11-01T10:00:00Z",
        "customer": {"domain": "acme.com"},
        "title": f"Invoice {n} paid",
        "amount": "120.00",
        "currency": "EUR",
        "data": {"lines": 2},
        **overrides,
    }


def test_an_event_is_stored_once_and_joins_the_timeline(owner, invoice_type):
    company = CompanyFactory(owner=owner, domain="acme.com")
    client = token_client(owner)
    first = client.post(reverse("api:events"), _event(), format="json")
    assert first.status_code == 201
    assert first.json()["status"] == "created" and first.json()["matched"] is True
    again = client.post(reverse("api:events"), _event(), format="json")
    assert again.status_code == 200
    assert again.json() == {**first.json(), "status": "duplicate"}
    assert BusinessEvent.objects.count() == 1
    event = BusinessEvent.objects.get()
    assert event.company == company and str(event.amount) == "120.00"
    assert TimelineEvent.objects.filter(company=company, kind="business_event", title="Invoice 1 paid").count() == 1


def test_a_batch_reports_each_item_and_stores_the_valid_ones(owner, invoice_type):
    CompanyFactory(owner=owner, domain="acme.com")
    client = token_client(owner)
    batch = [_event(1), _event(2, type="unknown"), _event(1), _event(3, customer={"email": "x@nowhere.example"})]
    response = client.post(reverse("api:events"), {"events": batch}, format="json")
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["created", "invalid", "duplicate", "created"]
    assert "type" in results[1]["errors"]
    assert results[2]["id"] == results[0]["id"]
    assert results[3]["matched"] is False
    assert BusinessEvent.objects.count() == 2


def test_a_batch_over_1000_is_400_and_stores_nothing(owner, invoice_type):
    client = token_client(owner)
    response = client.post(reverse("api:events"), {"events": [_event(i) for i in range(1001)]}, format="json")
    assert response.status_code == 400
    assert "events" in response.json()["fields"]
    assert not BusinessEvent.objects.exists()


def test_events_need_a_write_token(owner, invoice_type):
    client = token_client(owner, scope=TokenScope.READ)
    assert client.post(reverse("api:events"), _event(), format="json").status_code == 403


def test_an_outsiders_customer_is_not_matched(owner, outsider, invoice_type):
    CompanyFactory(owner=outsider, domain="acme.com")
    response = token_client(owner).post(reverse("api:events"), _event(), format="json")
    assert response.json()["matched"] is False


@pytest.mark.django_db(transaction=True)
def test_the_same_event_sent_concurrently_is_one_row(owner, invoice_type):
    CompanyFactory(owner=owner, domain="acme.com")
    clients = [token_client(owner) for _ in range(4)]
    barrier = threading.Barrier(4)
    answers = []

    def send(client):
        barrier.wait()
        answers.append(client.post(reverse("api:events"), _event(), format="json").json())
        connection.close()

    threads = [threading.Thread(target=send, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert BusinessEvent.objects.count() == 1
    assert sorted(a["status"] for a in answers) == ["created", "duplicate", "duplicate", "duplicate"]
    assert len({a["id"] for a in answers}) == 1
    assert TimelineEvent.objects.filter(kind="business_event").count() == 1


def test_an_unmatched_event_waits_and_is_linked_to_a_customer(
    owner, owner_client, teammate_client, outsider_client, invoice_type
):
    company = CompanyFactory(owner=owner, name="Late Match")
    token_client(owner).post(reverse("api:events"), _event(customer={"domain": "unknown.example"}), format="json")
    event = BusinessEvent.objects.get()
    page = owner_client.get(reverse("events:unmatched"))
    assert "Invoice 1 paid" in page.content.decode()
    assert "Invoice 1 paid" in teammate_client.get(reverse("events:unmatched")).content.decode()
    assert "Invoice 1 paid" not in outsider_client.get(reverse("events:unmatched")).content.decode()
    assert (
        outsider_client.post(reverse("events:unmatched-link", args=[event.pk]), {"company": company.pk}).status_code
        == 404
    )

    response = owner_client.post(reverse("events:unmatched-link", args=[event.pk]), {"company": company.pk})
    assert response.status_code == 302
    event.refresh_from_db()
    assert event.company == company and event.linked_at is not None
    assert TimelineEvent.objects.filter(company=company, kind="business_event").count() == 1
    assert "Invoice 1 paid" not in owner_client.get(reverse("events:unmatched")).content.decode()


def test_linking_to_an_invisible_customer_is_refused(owner, outsider, owner_client, invoice_type):
    foreign = ContactFactory(owner=outsider)
    token_client(owner).post(reverse("api:events"), _event(customer={"email": "n@x.example"}), format="json")
    event = BusinessEvent.objects.get()
    response = owner_client.post(reverse("events:unmatched-link", args=[event.pk]), {"contact": foreign.pk})
    assert response.status_code == 400
    event.refresh_from_db()
    assert event.contact is None
