"""The reminder drills (``activities/tests/test_reminder_drills.py``) for SLA timers: real
Redis servers and real Celery worker processes on the test database. A worker SIGKILLed
mid-batch, a Redis restart with the sweep queued, and two sweeps at once: every warning and
escalation is delivered, and each one notified exactly once."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from celery import Celery
from django.conf import settings
from django.utils import timezone

from activities.tests.drills import RedisServer, Worker, mail_count, wait_until
from contacts.models import Company
from crm.models import Notification, Role, Team
from crm.tests.factories import UserFactory
from service.models import Case, SlaTarget, SlaTimer, SlaTimerKind, SlaTimerState

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def send_sla_sweep(broker_url: str) -> None:
    """What beat does every minute: put one SLA sweep on the queue."""
    app = Celery("drill-client", broker=broker_url)
    app.conf.task_serializer = "json"
    try:
        # The queue the workers consume (CELERY_QUEUE, inherited by their environment).
        app.send_task("service.tasks.sla_sweep", queue=settings.CELERY_TASK_DEFAULT_QUEUE)
    finally:
        app.close()


def sla_sweep_until(
    broker_url: str, condition: Callable[[], bool], *, timeout: float, every: float = 10, sweeps: int = 1
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for _sweep in range(sweeps):
            send_sla_sweep(broker_url)
        next_tick = min(time.monotonic() + every, deadline)
        while time.monotonic() < next_tick:
            if condition():
                return
            time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {condition}")


def _breached_cases(count: int) -> list[int]:
    """``count`` cases whose first-response warning and breach are both due: two timers
    each, the warning for the assignee, the escalation for the queue's manager."""
    team = Team.objects.create(name=f"Desk {time.monotonic_ns()}")
    assignee = UserFactory(email_reminders=True)
    manager = UserFactory(email_reminders=True, role=Role.MANAGER)
    team.members.add(assignee)
    team.managers.add(manager)
    company = Company.objects.create(name="Drill customer", owner=assignee)
    due = timezone.now() - timedelta(seconds=5)
    cases = Case.objects.bulk_create(
        [
            Case(subject=f"Drill case {i}", team=team, assignee=assignee, company=company, first_response_due_at=due)
            for i in range(count)
        ]
    )
    timers = SlaTimer.objects.bulk_create(
        [
            SlaTimer(case=case, target=SlaTarget.FIRST_RESPONSE, kind=kind, due_at=due)
            for case in cases
            for kind in (SlaTimerKind.WARNING, SlaTimerKind.BREACH)
        ]
    )
    return [t.pk for t in timers]


def _sent(ids: list[int]) -> int:
    return SlaTimer.objects.filter(pk__in=ids, state=SlaTimerState.SENT).count()


def _assert_each_notified_once(ids: list[int]) -> None:
    keys = list(Notification.objects.filter(dedupe_key__startswith="sla:").values_list("dedupe_key", flat=True))
    assert len(keys) == len(set(keys)) == len(ids)
    assert {key.split(":")[1] for key in keys} == {str(pk) for pk in ids}


def test_a_worker_killed_mid_batch_loses_no_sla_warning_and_doubles_none(tmp_path):
    ids = _breached_cases(200)
    redis = RedisServer().start()
    first = Worker(redis.url, tmp_path, lease_seconds=2, name="sla-first")
    second = Worker(redis.url, tmp_path, lease_seconds=2, name="sla-second")
    try:
        first.start()
        send_sla_sweep(redis.url)
        wait_until(lambda: _sent(ids) >= 20, timeout=60, interval=0.01, what="the first deliveries")
        first.sigkill()
        assert _sent(ids) < len(ids), "the worker finished before it could be killed mid-batch"
        assert SlaTimer.objects.filter(pk__in=ids, state=SlaTimerState.SENDING).exists()

        second.start()
        cutoff = lambda: timezone.now() - timedelta(seconds=2)  # noqa: E731
        wait_until(
            lambda: not SlaTimer.objects.filter(pk__in=ids, state="sending", claimed_at__gte=cutoff()).exists(),
            timeout=15,
            what="the lease to run out",
        )
        sla_sweep_until(redis.url, lambda: _sent(ids) == len(ids), timeout=240)
    finally:
        first.stop()
        second.stop()
        redis.kill()

    _assert_each_notified_once(ids)
    assert Case.objects.filter(sla_breached=True).count() == len(ids) // 2
    # Email is at-least-once: only the timer in flight at the kill may be emailed twice.
    assert len(ids) <= mail_count(tmp_path) <= len(ids) + 1


def test_a_redis_restart_with_the_sweep_queued_loses_no_escalation(tmp_path):
    ids = _breached_cases(25)
    redis = RedisServer().start()
    worker = Worker(redis.url, tmp_path, name="sla-restart")
    try:
        send_sla_sweep(redis.url)
        assert redis.queue_length(settings.CELERY_TASK_DEFAULT_QUEUE) == 1
        redis.kill()  # without persistence: the queued sweep is gone
        redis = RedisServer(redis.port).start()
        assert redis.queue_length(settings.CELERY_TASK_DEFAULT_QUEUE) == 0
        worker.start()
        sla_sweep_until(redis.url, lambda: _sent(ids) == len(ids), timeout=120)  # beat's next ticks

        # Again with the worker running through the restart: it reconnects and carries on.
        more = _breached_cases(10)
        redis.kill()
        redis = RedisServer(redis.port).start()
        sla_sweep_until(redis.url, lambda: _sent(more) == len(more), timeout=90, every=3)
    finally:
        worker.stop()
        redis.kill()

    _assert_each_notified_once(ids + more)
    assert mail_count(tmp_path) == len(ids) + len(more)


def test_two_sweeps_running_at_once_warn_and_escalate_once(tmp_path):
    ids = _breached_cases(200)
    redis = RedisServer().start()
    workers = [Worker(redis.url, tmp_path, name=f"sla-twin{i}") for i in range(2)]
    try:
        for worker in workers:
            worker.start()
        sla_sweep_until(redis.url, lambda: _sent(ids) == len(ids), timeout=240, sweeps=2)
    finally:
        for worker in workers:
            worker.stop()
        redis.kill()

    _assert_each_notified_once(ids)
    assert mail_count(tmp_path) == len(ids)
