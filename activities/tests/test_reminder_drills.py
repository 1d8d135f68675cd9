"""Reliability drills against real Redis servers and real Celery worker processes.

Each drill starts its own ``redis-server`` on a free loopback port and its own workers, so
the Redis the app and the other tests use is never touched; every wait is bounded and every
process is killed in ``finally``.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from activities.models import Reminder, ReminderState
from activities.services import activity_reschedule, reminder_cancel
from activities.tests.drills import RedisServer, Worker, mail_count, send_sweep, sweep_until, wait_until
from activities.tests.factories import ActivityFactory, activity_type
from crm.models import Notification
from crm.tests.factories import UserFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _due_reminders(count: int, *, at=None) -> list[int]:
    """``count`` reminders due now, each on its own activity, for two users who want email."""
    users = [UserFactory(email_reminders=True), UserFactory(email_reminders=True)]
    at = at or timezone.now() - timedelta(seconds=5)
    task = activity_type("task")
    from activities.models import Activity

    activities = Activity.objects.bulk_create(
        [Activity(type=task, subject=f"Drill {i}", owner=users[i % 2], due_at=at) for i in range(count)]
    )
    reminders = Reminder.objects.bulk_create([Reminder(activity=a, remind_at=at) for a in activities])
    return [r.pk for r in reminders]


def _sent(ids: list[int]) -> int:
    return Reminder.objects.filter(pk__in=ids, state=ReminderState.SENT).count()


def _assert_each_notified_once(ids: list[int]) -> None:
    keys = list(Notification.objects.filter(dedupe_key__startswith="reminder:").values_list("dedupe_key", flat=True))
    assert sorted(keys) == sorted(f"reminder:{pk}" for pk in ids)


def test_a_worker_killed_mid_batch_loses_no_reminder_and_doubles_none(tmp_path):
    ids = _due_reminders(500)
    redis = RedisServer().start()
    first = Worker(redis.url, tmp_path, lease_seconds=2, name="first")
    second = Worker(redis.url, tmp_path, lease_seconds=2, name="second")
    try:
        first.start()
        send_sweep(redis.url)
        wait_until(lambda: _sent(ids) >= 20, timeout=60, interval=0.01, what="the first deliveries")
        first.sigkill()
        sent_before_kill = _sent(ids)
        assert sent_before_kill < len(ids), "the worker finished before it could be killed mid-batch"
        assert Reminder.objects.filter(pk__in=ids, state=ReminderState.SENDING).exists()

        # After the lease runs out, the next sweep (beat's next tick) claims the orphans again.
        second.start()
        wait_until(lambda: _lease_expired(ids, 2), timeout=15, what="the lease to run out")
        sweep_until(redis.url, lambda: _sent(ids) == len(ids), timeout=240)
    finally:
        first.stop()
        second.stop()
        redis.kill()

    _assert_each_notified_once(ids)
    # Email is at-least-once: only the one reminder in flight at the kill may be emailed twice.
    assert len(ids) <= mail_count(tmp_path) <= len(ids) + 1


def _lease_expired(ids: list[int], seconds: int) -> bool:
    cutoff = timezone.now() - timedelta(seconds=seconds)
    return not Reminder.objects.filter(pk__in=ids, state=ReminderState.SENDING, claimed_at__gte=cutoff).exists()


def test_a_redis_restart_with_work_queued_loses_no_reminder(tmp_path):
    ids = _due_reminders(50)
    redis = RedisServer().start()
    worker = Worker(redis.url, tmp_path, name="restart")
    try:
        send_sweep(redis.url)
        assert redis.queue_length() == 1
        # Redis dies without persistence: the queued sweep is gone.
        redis.kill()
        redis = RedisServer(redis.port).start()
        assert redis.queue_length() == 0

        worker.start()
        sweep_until(redis.url, lambda: _sent(ids) == len(ids), timeout=120)  # beat's next ticks

        # And again with the worker running through the restart: it reconnects and carries on.
        more = _due_reminders(20)
        redis.kill()
        redis = RedisServer(redis.port).start()
        wait_until(lambda: _sweep_and_check(redis.url, more), timeout=90, interval=3, what="the worker to reconnect")
    finally:
        worker.stop()
        redis.kill()

    _assert_each_notified_once(ids + more)
    assert mail_count(tmp_path) == len(ids) + len(more)


def _sweep_and_check(broker_url: str, ids: list[int]) -> bool:
    if _sent(ids) == len(ids):
        return True
    send_sweep(broker_url)
    return False


def test_two_sweeps_running_at_once_send_each_reminder_once(tmp_path):
    ids = _due_reminders(400)
    redis = RedisServer().start()
    workers = [Worker(redis.url, tmp_path, name=f"twin{i}") for i in range(2)]
    try:
        for worker in workers:
            worker.start()
        sweep_until(redis.url, lambda: _sent(ids) == len(ids), timeout=240, sweeps=2)
    finally:
        for worker in workers:
            worker.stop()
        redis.kill()

    _assert_each_notified_once(ids)
    assert mail_count(tmp_path) == len(ids)


def test_a_reminder_cancelled_or_rescheduled_before_it_is_due_is_not_sent_at_the_old_time(tmp_path):
    owner = UserFactory(email_reminders=True)
    soon = timezone.now() + timedelta(seconds=2)
    keep, cancel, move = (ActivityFactory(owner=owner, due_at=soon + timedelta(minutes=10)) for _ in range(3))
    reminders = {
        "keep": Reminder.objects.create(activity=keep, remind_at=soon),
        "cancel": Reminder.objects.create(activity=cancel, remind_at=soon),
        "move": Reminder.objects.create(activity=move, remind_at=soon, minutes_before=10),
    }
    reminder_cancel(reminder=reminders["cancel"])
    new_due = move.due_at + timedelta(hours=2)
    activity_reschedule(activity=move, actor=owner, due_at=new_due)

    redis = RedisServer().start()
    worker = Worker(redis.url, tmp_path, name="cancel")
    try:
        worker.start()
        wait_until(lambda: timezone.now() > soon + timedelta(seconds=1), timeout=10, what="the old time to pass")
        send_sweep(redis.url)
        wait_until(lambda: _sent([reminders["keep"].pk]) == 1, timeout=60, interval=0.2, what="the kept reminder")
        send_sweep(redis.url)  # a second tick must not change the others either
        wait_until(lambda: "succeeded" in worker.log() and worker.log().count("succeeded") >= 2, timeout=30)
    finally:
        worker.stop()
        redis.kill()

    for reminder in reminders.values():
        reminder.refresh_from_db()
    assert reminders["keep"].state == ReminderState.SENT
    assert reminders["cancel"].state == ReminderState.CANCELLED
    assert reminders["move"].state == ReminderState.PENDING
    assert reminders["move"].remind_at == new_due - timedelta(minutes=10)
    assert list(Notification.objects.values_list("dedupe_key", flat=True)) == [f"reminder:{reminders['keep'].pk}"]
    assert mail_count(tmp_path) == 1
