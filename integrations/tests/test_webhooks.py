"""Outbound webhooks: signed deliveries after commit, retries with backoff, disabling, the
delivery log's redeliver, concurrent sweeps, the SSRF guard and admin access.

Deliveries go to a real HTTP server on 127.0.0.1 run by the test (``receiver``).
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
import uuid
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from activities.tests.factories import ActivityFactory, activity_type
from contacts.models import Company, Contact
from contacts.services import company_create
from crm.models import Notification, Outbox
from crm.tests.factories import UserFactory
from deals.tests.factories import DealFactory, LostReasonFactory, stage
from integrations.management.commands.webhook_receiver import make_handler
from integrations.models import (
    DeliveryState,
    EventType,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEventKind,
)
from integrations.tests.conftest import token_client
from integrations.webhooks import (
    AttemptResult,
    delivery_request,
    endpoint_url_check,
    webhook_claim,
    webhook_deliver,
    webhook_endpoint_create,
    webhook_record_attempt,
    webhook_sweep,
)

ALL_KINDS = list(WebhookEventKind.values)


class Receiver:
    """A local HTTP server that records what it receives and answers ``status`` after ``delay``."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.status = 200
        self.delay = 0.0
        self.location = ""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"path": self.path, "headers": self.headers, "body": body})
                if receiver.delay:
                    time.sleep(receiver.delay)
                self.send_response(receiver.status)
                if receiver.location:
                    self.send_header("Location", receiver.location)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"no")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def json(self, index: int = -1) -> dict:
        return json.loads(self.requests[index]["body"])


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


def _endpoint(url: str, kinds: list[str] | None = None) -> WebhookEndpoint:
    return webhook_endpoint_create(url=url, event_kinds=kinds or ALL_KINDS, description="test")


def _closed_port_url() -> str:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now: connection refused
    return f"http://127.0.0.1:{port}/hook"


def _readme_verify():
    """The verification snippet exactly as the README shows it."""
    readme = (Path(django_settings.BASE_DIR) / "README.md").read_text()
    block = re.search(r"<!-- webhook-verify -->\s*```python\n(.*?)```", readme, re.S)
    assert block, "README lacks the webhook verification snippet"
    namespace: dict = {}
    exec(block.group(1), namespace)  # noqa: S102 - our own README
    return namespace["verify"]


# --- Signing and the payload ------------------------------------------------------------------


@pytest.mark.django_db
def test_a_delivery_is_signed_and_verifies_with_the_readme_snippet(receiver, owner):
    endpoint = _endpoint(receiver.url, [WebhookEventKind.COMPANY_CREATED])
    company = company_create(actor=owner, owner=owner, name="Acme", domain="acme.example")
    assert webhook_sweep() == 1

    assert len(receiver.requests) == 1
    sent = receiver.requests[0]
    headers = sent["headers"]
    assert headers["Content-Type"] == "application/json"
    assert headers["X-CRM-Event"] == "company.created"
    delivery = WebhookDelivery.objects.get()
    assert headers["X-CRM-Delivery"] == str(delivery.pk)
    assert headers["X-CRM-Signature"].startswith("sha256=")
    body = receiver.json()
    assert list(body) == ["id", "kind", "occurred_at", "data"]
    assert body["id"] == str(delivery.event_id)
    assert body["kind"] == "company.created"
    assert body["data"]["id"] == company.pk
    assert body["data"]["name"] == "Acme"
    assert body["data"]["owner_id"] == owner.pk
    assert body["data"]["url"].endswith(company.get_absolute_url())

    verify = _readme_verify()
    assert verify(endpoint.secret, headers, sent["body"]) is True
    assert verify(endpoint.secret, headers, sent["body"] + b" ") is False
    assert verify("whsec_wrong", headers, sent["body"]) is False
    old = {**headers, "X-CRM-Timestamp": str(int(time.time()) - 3600)}
    assert verify(endpoint.secret, old, sent["body"]) is False
    assert verify(endpoint.secret, {**headers, "X-CRM-Timestamp": "１２３"}, sent["body"]) is False

    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.DELIVERED
    assert delivery.attempts == 1
    assert delivery.last_status_code == 200
    assert delivery.duration_ms is not None
    assert delivery.delivered_at is not None and delivery.next_attempt_at is None
    endpoint.refresh_from_db()
    assert endpoint.last_success_at is not None


@pytest.mark.django_db
def test_the_dev_receiver_command_prints_verified_deliveries(owner):
    from http.server import HTTPServer

    endpoint_secret = "whsec_dev"
    lines: list[str] = []
    server = HTTPServer(("127.0.0.1", 0), make_handler(secret=endpoint_secret, status=200, write=lines.append))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        endpoint = _endpoint(f"http://127.0.0.1:{server.server_address[1]}/", [WebhookEventKind.COMPANY_CREATED])
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(secret=endpoint_secret)
        company_create(actor=owner, owner=owner, name="Receiver Ltd")
        webhook_sweep()
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(secret="whsec_other")
        company_create(actor=owner, owner=owner, name="Forged Ltd")
        webhook_sweep()
    finally:
        server.shutdown()
        server.server_close()
    assert lines[0].startswith("VERIFIED company.created delivery=")
    assert '"name": "Receiver Ltd"' in lines[1]
    assert lines[2].startswith("BAD SIGNATURE company.created")
    states = list(WebhookDelivery.objects.order_by("id").values_list("state", "last_status_code"))
    assert states == [(DeliveryState.DELIVERED, 200), (DeliveryState.FAILED, 401)]


# --- After commit only ------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_rolled_back_change_leaves_no_delivery(receiver, owner):
    _endpoint(receiver.url)
    outbox_before = Outbox.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        company_create(actor=owner, owner=owner, name="Never")
        assert WebhookDelivery.objects.count() == 1  # written in the change's transaction…
        raise RuntimeError("the request fails after the write")
    assert WebhookDelivery.objects.count() == 0  # …and gone with it
    assert Outbox.objects.count() == outbox_before
    assert webhook_sweep() == 0
    assert receiver.requests == []


@pytest.mark.django_db
def test_the_worker_is_nudged_only_once_the_change_commits(receiver, owner, django_capture_on_commit_callbacks):
    _endpoint(receiver.url, [WebhookEventKind.COMPANY_CREATED])
    with django_capture_on_commit_callbacks() as callbacks:
        company_create(actor=owner, owner=owner, name="Acme")
        row = Outbox.objects.get(task="integrations.tasks.webhook_deliver")
        assert row.kwargs == {"ids": [WebhookDelivery.objects.get().pk]}
    assert len(callbacks) == 1  # the outbox's relay after commit, nothing sent before
    assert receiver.requests == []


@pytest.mark.django_db
def test_nothing_is_written_without_a_subscribed_active_endpoint(receiver, owner):
    _endpoint(receiver.url, [WebhookEventKind.DEAL_WON])
    off = _endpoint(receiver.url, [WebhookEventKind.COMPANY_CREATED])
    WebhookEndpoint.objects.filter(pk=off.pk).update(is_active=False)
    company_create(actor=owner, owner=owner, name="Quiet")
    assert WebhookDelivery.objects.count() == 0


# --- Every kind from the real actions ---------------------------------------------------------


@pytest.mark.django_db
def test_each_event_kind_fires_from_the_api_and_the_pages(receiver, owner, owner_client):
    _endpoint(receiver.url)
    api = token_client(owner)

    response = api.post(reverse("api:companies"), {"name": "Webhook GmbH", "domain": "wh.example"}, format="json")
    assert response.status_code == 201
    company = Company.objects.get(pk=response.json()["id"])
    response = api.patch(
        reverse("api:company", args=[company.pk]), {"industry": "Tools", "version": company.version}, format="json"
    )
    assert response.status_code == 200
    response = api.post(
        reverse("api:contacts"), {"last_name": "Hook", "email": "anna@wh.example", "company": company.pk}, format="json"
    )
    assert response.status_code == 201
    contact = Contact.objects.get(pk=response.json()["id"])
    response = api.patch(
        reverse("api:contact", args=[contact.pk]), {"title": "CEO", "version": contact.version}, format="json"
    )
    assert response.status_code == 200

    response = api.post(reverse("api:deals"), {"title": "Pilot", "amount": "1200.50"}, format="json")
    assert response.status_code == 201
    deal_id = response.json()["id"]
    deal = DealFactory(owner=owner, company=company, title="Expansion")
    won = stage(deal.pipeline, "Won")
    move = reverse("api:deal-move", args=[deal.pk])
    assert api.post(move, {"stage": stage(deal.pipeline, "Qualified").pk}, format="json").status_code == 200
    assert api.post(move, {"stage": won.pk}, format="json").status_code == 200
    lost_deal = DealFactory(owner=owner, title="Gone")
    reason = LostReasonFactory()
    response = api.post(
        reverse("api:deal-move", args=[lost_deal.pk]),
        {"stage": stage(lost_deal.pipeline, "Lost").pk, "lost_reason": reason.pk},
        format="json",
    )
    assert response.status_code == 200

    task = ActivityFactory(owner=owner, type=activity_type("task"), subject="Send offer", deal=deal)
    response = owner_client.post(reverse("activities:toggle-done", args=[task.pk]), {"done": "1"})
    assert response.status_code in (200, 302)

    EventType.objects.create(key="invoice_paid", name="Invoice paid")
    event = {
        "source": "erp",
        "external_id": "INV-1",
        "type": "invoice_paid",
        "occurred_at": "2026-11-01T10:00:00Z",
        "customer": {"domain": "wh.example"},
        "title": "Invoice 1 paid",
        "amount": "99.00",
        "currency": "EUR",
    }
    assert api.post(reverse("api:events"), event, format="json").status_code == 201
    assert api.post(reverse("api:events"), event, format="json").status_code == 200  # duplicate: no event

    webhook_sweep()
    got = [(r["headers"]["X-CRM-Event"], r) for r in receiver.requests]
    kinds = [kind for kind, _r in got]
    for kind in ALL_KINDS:
        assert kind in kinds, kind
    assert kinds.count("event.received") == 1
    by_kind = {kind: json.loads(r["body"])["data"] for kind, r in got}
    assert by_kind["company.created"]["name"] == "Webhook GmbH"
    assert by_kind["company.updated"]["version"] == 2
    assert by_kind["contact.created"]["company_id"] == company.pk
    assert by_kind["contact.updated"]["id"] == contact.pk
    assert deal_id in [json.loads(r["body"])["data"]["id"] for kind, r in got if kind == "deal.created"]
    assert by_kind["deal.won"]["id"] == deal.pk
    assert by_kind["deal.won"]["stage"] == {"id": won.pk, "name": "Won"}
    assert by_kind["deal.won"]["status"] == "won"
    assert by_kind["deal.won"]["from_stage"]["name"] == "Qualified"
    assert by_kind["deal.lost"]["lost_reason"] == reason.name
    assert by_kind["activity.completed"]["id"] == task.pk
    assert by_kind["activity.completed"]["done_at"]
    assert by_kind["event.received"]["external_id"] == "INV-1"
    assert by_kind["event.received"]["company_id"] == company.pk
    assert WebhookDelivery.objects.exclude(state=DeliveryState.DELIVERED).count() == 0


# --- Retries, abandoning, disabling -----------------------------------------------------------


@pytest.mark.django_db
def test_a_500_is_retried_with_exponential_backoff(receiver, owner):
    _endpoint(receiver.url, [WebhookEventKind.COMPANY_CREATED])
    company_create(actor=owner, owner=owner, name="Flaky")
    receiver.status = 500

    before = timezone.now()
    webhook_sweep()
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == DeliveryState.FAILED
    assert delivery.attempts == 1
    assert delivery.last_status_code == 500
    assert "HTTP 500" in delivery.last_error
    assert before + timedelta(seconds=59) < delivery.next_attempt_at < timezone.now() + timedelta(seconds=61)

    assert webhook_sweep() == 0  # not due yet
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    webhook_sweep()
    delivery.refresh_from_db()
    assert delivery.attempts == 2
    assert timezone.now() + timedelta(seconds=110) < delivery.next_attempt_at < timezone.now() + timedelta(seconds=121)

    receiver.status = 204
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    webhook_sweep()
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.DELIVERED
    assert delivery.attempts == 3
    assert delivery.last_error == ""
    assert len(receiver.requests) == 3
    assert len({r["headers"]["X-CRM-Delivery"] for r in receiver.requests}) == 1
    assert len({json.loads(r["body"])["id"] for r in receiver.requests}) == 1


@pytest.mark.django_db
def test_a_timeout_and_a_refused_connection_are_retried(receiver, owner, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 1
    receiver.delay = 2
    _endpoint(receiver.url, [WebhookEventKind.COMPANY_CREATED])
    _endpoint(_closed_port_url(), [WebhookEventKind.COMPANY_CREATED])
    company_create(actor=owner, owner=owner, name="Slow")
    started = time.monotonic()
    assert webhook_sweep() == 2
    assert time.monotonic() - started < 10
    slow, refused = WebhookDelivery.objects.order_by("endpoint_id")
    assert slow.state == refused.state == DeliveryState.FAILED
    assert "timed out" in slow.last_error.lower() or "timeout" in slow.last_error.lower()
    assert slow.last_status_code is None
    assert "refused" in refused.last_error.lower()
    assert refused.next_attempt_at > timezone.now()


@pytest.mark.django_db
def test_backoff_is_capped_and_a_delivery_is_abandoned_after_24_hours(owner):
    endpoint = _endpoint(_closed_port_url(), [WebhookEventKind.COMPANY_CREATED])
    company_create(actor=owner, owner=owner, name="Gone")
    delivery = WebhookDelivery.objects.get()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(attempts=12)
    webhook_sweep()
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.FAILED
    gap = delivery.next_attempt_at - timezone.now()
    assert timedelta(minutes=59) < gap <= timedelta(hours=1)

    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now(), created_at=timezone.now() - timedelta(hours=23, minutes=30)
    )
    webhook_sweep()
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.ABANDONED
    assert delivery.next_attempt_at is None
    assert delivery.attempts == 14
    endpoint.refresh_from_db()
    assert endpoint.is_active  # 2 failures: far from the limit


@pytest.mark.django_db
def test_repeated_failures_turn_the_endpoint_off_and_notify_admins(receiver, owner, admin_user, settings):
    settings.WEBHOOK_DISABLE_AFTER_FAILURES = 3
    settings.WEBHOOK_DISABLE_AFTER_MINUTES = 30
    other_admin = UserFactory(username="root2", role="admin")
    receiver.status = 503
    endpoint = _endpoint(receiver.url, [WebhookEventKind.COMPANY_CREATED])
    for n in range(4):
        company_create(actor=owner, owner=owner, name=f"Down {n}")
    WebhookDelivery.objects.filter(pk=WebhookDelivery.objects.order_by("id").last().pk).update(
        next_attempt_at=timezone.now() + timedelta(minutes=5)
    )

    webhook_sweep()  # three failures, but failing for less than 30 minutes: stays on
    endpoint.refresh_from_db()
    assert endpoint.is_active
    assert endpoint.consecutive_failures == 3

    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=timezone.now() - timedelta(minutes=31))
    first = WebhookDelivery.objects.order_by("id").first()
    WebhookDelivery.objects.filter(pk=first.pk).update(next_attempt_at=timezone.now())
    webhook_sweep()

    endpoint.refresh_from_db()
    assert not endpoint.is_active
    assert endpoint.disabled_at is not None
    assert "4 failed attempts in a row" in endpoint.disabled_reason
    assert "503" in endpoint.disabled_reason
    # What still waited for it is abandoned; new events are not written for it.
    assert set(WebhookDelivery.objects.values_list("state", flat=True)) == {DeliveryState.ABANDONED}
    company_create(actor=owner, owner=owner, name="After")
    assert WebhookDelivery.objects.count() == 4
    for admin in (admin_user, other_admin):
        note = Notification.objects.get(user=admin)
        assert endpoint.url in note.text
        assert note.link == reverse("admin:integrations_webhookendpoint_change", args=[endpoint.pk])
    assert not Notification.objects.filter(user=owner).exists()


@pytest.mark.django_db
def test_a_success_resets_the_failure_streak(receiver, owner):
    endpoint = _endpoint(receiver.url, [WebhookEventKind.COMPANY_CREATED])
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(consecutive_failures=7, failing_since=timezone.now())
    company_create(actor=owner, owner=owner, name="Back")
    webhook_sweep()
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 0 and endpoint.failing_since is None


@pytest.mark.django_db
def test_a_redirect_is_not_followed(receiver, owner):
    receiver.status = 302
    receiver.location = receiver.url + "/elsewhere"
    _endpoint(receiver.url, [WebhookEventKind.COMPANY_CREATED])
    company_create(actor=owner, owner=owner, name="Moved")
    webhook_sweep()
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == DeliveryState.FAILED
    assert delivery.last_status_code == 302
    assert [r["path"] for r in receiver.requests] == ["/hook"]


# --- Claiming: leases, concurrent sweeps ------------------------------------------------------


@pytest.mark.django_db
def test_a_claim_whose_worker_died_is_claimed_again_after_the_lease(receiver, owner, settings):
    _endpoint(receiver.url, [WebhookEventKind.COMPANY_CREATED])
    company_create(actor=owner, owner=owner, name="Crash")
    [(delivery_id, claimed_at)] = webhook_claim()  # the worker dies here
    assert webhook_claim() == []  # held by the lease
    assert WebhookDelivery.objects.get().state == DeliveryState.SENDING

    WebhookDelivery.objects.filter(pk=delivery_id).update(
        claimed_at=timezone.now() - timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS + 1)
    )
    assert webhook_sweep() == 1
    assert WebhookDelivery.objects.get().state == DeliveryState.DELIVERED
    # The first worker coming back late sends nothing and records nothing.
    assert webhook_deliver(delivery_id=delivery_id, claimed_at=claimed_at) == "skipped"
    result = AttemptResult(ok=False, status_code=500, error="late", duration_ms=1)
    assert webhook_record_attempt(delivery_id=delivery_id, claimed_at=claimed_at, result=result) == "skipped"
    assert len(receiver.requests) == 1
    assert WebhookDelivery.objects.get().state == DeliveryState.DELIVERED


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_deliver_each_delivery_once(receiver, owner):
    receiver.delay = 0.02
    endpoint = _endpoint(receiver.url, [WebhookEventKind.COMPANY_CREATED])
    for n in range(30):
        company_create(actor=owner, owner=owner, name=f"Busy {n}")
    assert WebhookDelivery.objects.filter(endpoint=endpoint).count() == 30
    barrier = threading.Barrier(2)
    counts: list[int] = []

    def sweep() -> None:
        try:
            barrier.wait()
            counts.append(webhook_sweep(batch_size=3))
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sum(counts) == 30
    delivered = [r["headers"]["X-CRM-Delivery"] for r in receiver.requests]
    assert len(delivered) == 30 and len(set(delivered)) == 30
    assert WebhookDelivery.objects.filter(state=DeliveryState.DELIVERED).count() == 30


# --- SSRF guard -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_private_addresses_are_refused_in_production(receiver, owner, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    for url in ("http://127.0.0.1:8000/", "http://10.0.0.5/", "http://[::1]/", "http://169.254.169.254/latest"):
        with pytest.raises(ValidationError):
            endpoint_url_check(url)
    for url in ("ftp://example.com/", "file:///etc/passwd", "http://user:pw@example.com/"):
        with pytest.raises(ValidationError):
            endpoint_url_check(url)
    # An endpoint saved while allowed (or a name that now resolves privately) is not reached.
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    _endpoint(receiver.url, [WebhookEventKind.COMPANY_CREATED])
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    company_create(actor=owner, owner=owner, name="Internal")
    webhook_sweep()
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == DeliveryState.FAILED
    assert "private or reserved" in delivery.last_error
    assert receiver.requests == []


# --- Admin ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_admin_pages_are_for_admins_only(client, owner, owner_client, admin_client, receiver):
    endpoint = _endpoint(receiver.url)
    company_create(actor=owner, owner=owner, name="Seen")
    delivery = WebhookDelivery.objects.get()
    staff = UserFactory(username="staff", is_staff=True)
    staff_client = type(client)()
    staff_client.force_login(staff)
    pages = [
        reverse("admin:integrations_webhookendpoint_changelist"),
        reverse("admin:integrations_webhookendpoint_add"),
        reverse("admin:integrations_webhookendpoint_change", args=[endpoint.pk]),
        reverse("admin:integrations_webhookdelivery_changelist"),
        reverse("admin:integrations_webhookdelivery_change", args=[delivery.pk]),
    ]
    for url in pages:
        assert admin_client.get(url).status_code == 200, url
        anonymous = client.get(url)
        assert anonymous.status_code == 302 and "/login/" in anonymous["Location"], url
        assert owner_client.get(url).status_code == 302, url  # not staff: the admin's sign-in
        assert staff_client.get(url).status_code == 403, url  # staff but not an admin
    page = admin_client.get(reverse("admin:integrations_webhookendpoint_change", args=[endpoint.pk])).content
    assert endpoint.secret.encode() not in page  # only its start
    assert endpoint.secret[:10].encode() in page
    assert (
        staff_client.post(
            reverse("admin:integrations_webhookdelivery_changelist"),
            {"action": "redeliver", "_selected_action": [delivery.pk]},
        ).status_code
        == 403
    )
    assert WebhookDelivery.objects.count() == 1


@pytest.mark.django_db
def test_admin_registers_an_endpoint_and_sees_the_secret_once(admin_client, admin_user, receiver):
    response = admin_client.post(
        reverse("admin:integrations_webhookendpoint_add"),
        {"url": receiver.url, "description": "ERP", "event_kinds": ["deal.won", "deal.lost"], "is_active": "on"},
        follow=True,
    )
    assert response.status_code == 200
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.event_kinds == ["deal.lost", "deal.won"]
    assert endpoint.created_by == admin_user
    assert endpoint.secret.startswith("whsec_")
    assert endpoint.secret in response.content.decode()
    assert all(endpoint.secret not in morsel.value for morsel in admin_client.cookies.values())
    again = admin_client.get(reverse("admin:integrations_webhookendpoint_change", args=[endpoint.pk]))
    assert endpoint.secret not in again.content.decode()

    bad = admin_client.post(
        reverse("admin:integrations_webhookendpoint_add"),
        {"url": "ftp://example.com/", "event_kinds": ["bogus"]},
    )
    assert bad.status_code == 200
    assert WebhookEndpoint.objects.count() == 1


@pytest.mark.django_db
def test_redeliver_sends_the_same_event_again_as_a_new_delivery(receiver, owner, admin_client):
    endpoint = _endpoint(receiver.url, [WebhookEventKind.COMPANY_CREATED])
    company_create(actor=owner, owner=owner, name="Again")
    webhook_sweep()
    original = WebhookDelivery.objects.get()
    response = admin_client.post(
        reverse("admin:integrations_webhookdelivery_changelist"),
        {"action": "redeliver", "_selected_action": [original.pk, "x²"]},
    )
    assert response.status_code == 302
    copy = WebhookDelivery.objects.exclude(pk=original.pk).get()
    assert copy.redelivery_of == original
    assert copy.event_id == original.event_id
    assert copy.state == DeliveryState.PENDING
    webhook_sweep()
    assert len(receiver.requests) == 2
    assert receiver.json(0)["id"] == receiver.json(1)["id"]
    assert receiver.requests[0]["headers"]["X-CRM-Delivery"] != receiver.requests[1]["headers"]["X-CRM-Delivery"]

    # A turned-off endpoint gets nothing until it is turned on again (which resets its streak).
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        is_active=False, disabled_at=timezone.now(), consecutive_failures=20
    )
    admin_client.post(
        reverse("admin:integrations_webhookdelivery_changelist"),
        {"action": "redeliver", "_selected_action": [original.pk]},
    )
    assert WebhookDelivery.objects.count() == 2
    admin_client.post(
        reverse("admin:integrations_webhookendpoint_changelist"),
        {"action": "enable", "_selected_action": [endpoint.pk]},
    )
    endpoint.refresh_from_db()
    assert endpoint.is_active and endpoint.disabled_at is None and endpoint.consecutive_failures == 0


@pytest.mark.django_db
def test_ping_and_rotate_secret_actions(receiver, admin_client):
    endpoint = _endpoint(receiver.url, [WebhookEventKind.DEAL_WON])
    old_secret = endpoint.secret
    response = admin_client.post(
        reverse("admin:integrations_webhookendpoint_changelist"),
        {"action": "rotate_secret", "_selected_action": [endpoint.pk]},
        follow=True,
    )
    endpoint.refresh_from_db()
    assert endpoint.secret != old_secret
    assert endpoint.secret in response.content.decode()
    admin_client.post(
        reverse("admin:integrations_webhookendpoint_changelist"),
        {"action": "send_ping", "_selected_action": [endpoint.pk]},
    )
    webhook_sweep()
    assert receiver.requests[0]["headers"]["X-CRM-Event"] == "ping"
    verify = _readme_verify()
    assert verify(endpoint.secret, receiver.requests[0]["headers"], receiver.requests[0]["body"])


@pytest.mark.django_db
def test_the_delivery_log_search_takes_an_event_id_and_never_fails(owner, admin_client, receiver):
    _endpoint(receiver.url, [WebhookEventKind.COMPANY_CREATED])
    company_create(actor=owner, owner=owner, name="Find me")
    delivery = WebhookDelivery.objects.get()
    url = reverse("admin:integrations_webhookdelivery_changelist")
    found = admin_client.get(url, {"q": str(delivery.event_id)})
    assert found.status_code == 200 and found.context["cl"].result_count == 1
    for q in ("not-a-uuid", str(uuid.uuid4())):
        response = admin_client.get(url, {"q": q})
        assert response.status_code == 200
        assert response.context["cl"].result_count == 0
    assert admin_client.get(url, {"q": "\x00"}).status_code in (200, 400)
    assert admin_client.get(url, {"kind": "deal.won", "state": "failed"}).status_code == 200


@pytest.mark.django_db
def test_the_webhook_add_command_prints_the_secret(capsys, receiver):
    call_command("webhook_add", receiver.url, "--kinds", "deal.won,company.created")
    out = capsys.readouterr().out
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.secret in out
    assert endpoint.event_kinds == ["company.created", "deal.won"]


@pytest.mark.django_db
def test_a_signed_request_can_be_rebuilt_for_checks(receiver, owner):
    endpoint = _endpoint(receiver.url, [WebhookEventKind.COMPANY_CREATED])
    company_create(actor=owner, owner=owner, name="Rebuild")
    delivery = WebhookDelivery.objects.select_related("endpoint").get()
    body, headers = delivery_request(delivery, now=1_800_000_000)
    assert headers["X-CRM-Timestamp"] == "1800000000"
    verify = _readme_verify()
    assert verify(endpoint.secret, headers, body) is False  # too old for the tolerance
    body, headers = delivery_request(delivery)
    assert verify(endpoint.secret, headers, body) is True


@pytest.mark.django_db
def test_a_sweep_out_of_time_hands_back_what_it_claimed(receiver, owner):
    _endpoint(receiver.url, [WebhookEventKind.COMPANY_CREATED])
    for n in range(3):
        company_create(actor=owner, owner=owner, name=f"Late {n}")
    WebhookDelivery.objects.filter(pk=WebhookDelivery.objects.order_by("id").first().pk).update(attempts=2)
    assert webhook_sweep(time_budget=-1) == 0  # claimed three, sent none
    assert receiver.requests == []
    states = list(WebhookDelivery.objects.order_by("id").values_list("state", "claimed_at"))
    assert states == [(DeliveryState.FAILED, None), (DeliveryState.PENDING, None), (DeliveryState.PENDING, None)]
    assert webhook_sweep() == 3
    assert len(receiver.requests) == 3


@pytest.mark.django_db
def test_the_tasks_beat_and_the_outbox_send_run_the_sweep(receiver, owner, settings):
    from integrations import tasks

    assert settings.CELERY_BEAT_SCHEDULE["integrations-webhook-sweep"]["task"] == tasks.webhook_sweep.name
    _endpoint(receiver.url, [WebhookEventKind.COMPANY_CREATED])
    company_create(actor=owner, owner=owner, name="Task A")
    company_create(actor=owner, owner=owner, name="Task B")
    first, second = WebhookDelivery.objects.order_by("id")
    assert tasks.webhook_deliver.run(ids=[first.pk]) == 1  # only the ones it was given
    assert tasks.webhook_deliver.run(ids=[first.pk]) == 0  # idempotent
    assert tasks.webhook_sweep.run() == 1
    assert len(receiver.requests) == 2


@pytest.mark.django_db
def test_editing_an_endpoint_in_admin_keeps_its_secret_and_turning_it_on_resets_the_streak(admin_client, receiver):
    endpoint = _endpoint(receiver.url, [WebhookEventKind.DEAL_WON])
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        is_active=False, disabled_at=timezone.now(), disabled_reason="down", consecutive_failures=20
    )
    url = reverse("admin:integrations_webhookendpoint_change", args=[endpoint.pk])
    page = admin_client.get(url).content.decode()
    assert re.search(r'<input[^>]*value="deal.won"[^>]*checked|<input[^>]*checked[^>]*value="deal.won"', page)
    response = admin_client.post(
        url, {"url": receiver.url, "description": "", "event_kinds": ["deal.lost"], "is_active": "on"}
    )
    assert response.status_code == 302
    saved = WebhookEndpoint.objects.get()
    assert saved.event_kinds == ["deal.lost"]
    assert saved.secret == endpoint.secret
    assert saved.is_active and saved.disabled_at is None and saved.disabled_reason == ""
    assert saved.consecutive_failures == 0
