"""Webhook delivery with a real Celery worker that is killed mid-batch (a private Redis, the
test database): no delivery is lost, and at most the one in flight is sent twice."""

from __future__ import annotations

import time
from collections import Counter

import pytest
from celery import Celery
from django.conf import settings

from activities.tests.drills import RedisServer, Worker, wait_until
from integrations.models import DeliveryState, WebhookDelivery, WebhookEventKind
from integrations.tests.test_webhooks import Receiver
from integrations.webhooks import webhook_endpoint_create, webhooks_emit

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

LEASE = 5


def _send_sweep(broker_url: str) -> None:
    """What beat does every WEBHOOK_SWEEP_SECONDS."""
    app = Celery("drill-client", broker=broker_url)
    app.conf.task_serializer = "json"
    try:
        app.send_task("integrations.tasks.webhook_sweep", queue=settings.CELERY_TASK_DEFAULT_QUEUE)
    finally:
        app.close()


def _delivered(ids: list[int]) -> int:
    return WebhookDelivery.objects.filter(pk__in=ids, state=DeliveryState.DELIVERED).count()


def test_a_worker_killed_mid_batch_loses_no_delivery(tmp_path, monkeypatch):
    monkeypatch.setenv("WEBHOOK_LEASE_SECONDS", str(LEASE))
    monkeypatch.setenv("WEBHOOK_TIMEOUT_SECONDS", "1")
    receiver = Receiver()
    receiver.delay = 0.1
    endpoint = webhook_endpoint_create(url=receiver.url, event_kinds=[WebhookEventKind.DEAL_WON])
    created = webhooks_emit(
        kind=WebhookEventKind.DEAL_WON, items=[{"n": n} for n in range(60)], endpoint_ids=[endpoint.pk]
    )
    ids = [row.pk for row in created]
    redis = RedisServer().start()
    first = Worker(redis.url, tmp_path, name="first")
    second = Worker(redis.url, tmp_path, name="second")
    try:
        first.start()
        _send_sweep(redis.url)
        wait_until(lambda: len(receiver.requests) >= 12, timeout=60, interval=0.01, what="the first deliveries")
        first.sigkill()
        assert _delivered(ids) < len(ids), "the worker finished before it could be killed"
        assert WebhookDelivery.objects.filter(pk__in=ids, state=DeliveryState.SENDING).exists()

        second.start()
        time.sleep(LEASE + 1)  # the claims of the killed worker run out
        deadline = time.monotonic() + 120
        while _delivered(ids) < len(ids) and time.monotonic() < deadline:
            _send_sweep(redis.url)  # beat's next ticks
            tick = time.monotonic() + 5
            while time.monotonic() < tick and _delivered(ids) < len(ids):
                time.sleep(0.25)
    finally:
        first.stop()
        second.stop()
        redis.kill()
        receiver.close()

    assert _delivered(ids) == len(ids), first.log()[-2000:] + second.log()[-2000:]
    received = Counter(request["headers"]["X-CRM-Delivery"] for request in receiver.requests)
    assert set(received) == {str(pk) for pk in ids}
    # At least once: only the delivery in flight at the kill may have arrived twice.
    assert sum(received.values()) - len(ids) <= 1
