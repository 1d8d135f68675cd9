"""The transactional outbox against the real Redis broker (and a real outage: a closed port)."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from crm import services
from crm.models import Outbox
from crm.tests.broker import broker, broker_down, take_outbox_messages

# pytest-xdist's workers share the broker's queues and their databases number rows alike: each
# worker's messages carry this process's mark, so that one worker never takes another's.
WORKER_MARK = uuid.uuid4().hex


def _enqueue(task: str = "crm.tasks.heartbeat", args: list | None = None) -> Outbox:
    with transaction.atomic():
        return services.outbox_enqueue(task=task, args=[*(args or []), WORKER_MARK])


# Real commits (the relay's own transactions, the nudge after commit) need a transactional
# database (pytest-django runs these after the tests that roll back).
REAL_COMMITS = pytest.mark.django_db(transaction=True)


@REAL_COMMITS
def test_enqueue_outside_a_transaction_is_refused():
    with pytest.raises(RuntimeError, match="inside transaction.atomic"):
        services.outbox_enqueue(task="crm.tasks.heartbeat")
    assert not Outbox.objects.exists()


def test_a_rolled_back_transaction_leaves_nothing_to_send(db):
    with pytest.raises(ValueError), transaction.atomic():
        services.outbox_enqueue(task="crm.tasks.heartbeat", args=[1])
        raise ValueError
    assert not Outbox.objects.exists()


def test_the_relay_puts_due_rows_on_the_broker_queue_once(db):
    rows = [_enqueue(args=[n]) for n in range(3)]

    result = services.outbox_relay()

    assert (result.sent, result.failed) == (3, 0)
    # Counted by this worker's rows (another worker's messages share the queue).
    messages = take_outbox_messages({row.pk for row in rows})
    assert len(messages) == 3
    assert sorted(m["args"][0] for m in messages) == [0, 1, 2]
    assert {m["task"] for m in messages} == {"crm.tasks.heartbeat"}
    assert all(row.sent_at for row in Outbox.objects.all())
    assert services.outbox_relay().sent == 0  # a sent row is never sent again


def test_a_broker_outage_leaves_the_rows_for_the_next_sweep_with_the_error(db):
    first, second = _enqueue(args=[1]), _enqueue(args=[2])

    with broker_down():
        result = services.outbox_relay()

    assert (result.sent, result.failed) == (0, 1)
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.sent_at is None and first.attempts == 1
    assert "Connection refused" in first.last_error
    assert first.available_at > timezone.now()  # backs off
    assert (second.attempts, second.last_error, second.sent_at) == (0, "", None)  # untouched, next sweep

    # Broker back: the next sweep (once the backoff passed) sends both.
    result = services.outbox_relay(now=timezone.now() + timedelta(minutes=1))
    assert result.sent == 2
    assert len(take_outbox_messages({first.pk, second.pk})) == 2
    first.refresh_from_db()
    assert first.sent_at is not None and first.attempts == 2


def test_the_sweep_drains_more_than_one_batch_and_purges_old_sent_rows(db, monkeypatch):
    monkeypatch.setattr(services, "OUTBOX_BATCH_SIZE", 2)
    rows = [_enqueue(args=[n]) for n in range(5)]
    old = _enqueue(args=["old"])
    Outbox.objects.filter(pk=old.pk).update(sent_at=timezone.now() - timedelta(days=30))

    assert services.outbox_sweep() == 5

    take_outbox_messages({row.pk for row in rows})
    assert not Outbox.objects.filter(sent_at__isnull=True).exists()
    assert not Outbox.objects.filter(pk=old.pk).exists()


@REAL_COMMITS
def test_two_relays_at_once_never_send_the_same_row():
    # Written directly: a committed outbox_enqueue would relay them at once (the nudge).
    rows = [Outbox.objects.create(task="crm.tasks.heartbeat", args=[n]) for n in range(4)]
    locked = threading.Event()
    release = threading.Event()

    def hold_two_rows() -> None:
        # Another relay that claimed the two oldest rows and is still sending them.
        try:
            with transaction.atomic():
                list(Outbox.objects.filter(pk__in=[rows[0].pk, rows[1].pk]).select_for_update())
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    other = threading.Thread(target=hold_two_rows)
    other.start()
    try:
        assert locked.wait(10)
        result = services.outbox_relay()
    finally:
        release.set()
        other.join(10)

    assert result.sent == 2
    sent = set(Outbox.objects.filter(sent_at__isnull=False).values_list("pk", flat=True))
    assert sent == {rows[2].pk, rows[3].pk}
    take_outbox_messages({row.pk for row in rows})


@REAL_COMMITS
def test_the_immediate_relay_after_commit_sends_at_once_and_swallows_a_broker_error():
    sent = _enqueue(args=["now"])
    sent.refresh_from_db()
    assert sent.sent_at is not None
    assert len(take_outbox_messages({sent.pk})) == 1

    with broker_down():
        pending = _enqueue(args=["later"])  # no exception reaches the caller

    pending.refresh_from_db()
    assert pending.sent_at is None and pending.attempts == 1 and "Connection refused" in pending.last_error


def test_admins_see_the_outbox_read_only(admin_client, db):
    row = _enqueue(args=[42])
    response = admin_client.get(reverse("admin:crm_outbox_changelist"), {"sent_at__isnull": "True"})
    assert response.status_code == 200 and "crm.tasks.heartbeat" in response.content.decode()
    assert admin_client.get(reverse("admin:crm_outbox_change", args=[row.pk])).status_code == 200
    assert admin_client.get(reverse("admin:crm_outbox_add")).status_code == 403


def test_the_kept_broker_connection_is_replaced_when_redis_dropped_it(db):
    first = _enqueue(args=["first"])
    assert services.outbox_relay().sent == 1
    # Redis drops the relay's connection (as a Redis restart does): the next send reconnects.
    url, connection_, _producer = services._relay_local.producer
    client_id = connection_.default_channel.client.client_id()
    broker().client_kill_filter(_id=client_id)

    second = _enqueue(args=["second"])
    result = services.outbox_relay()

    assert (result.sent, result.failed) == (1, 0)
    assert len(take_outbox_messages({first.pk, second.pk})) == 2
