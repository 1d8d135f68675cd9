from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.db import connection
from django.utils import timezone

from activities import services
from activities.models import Reminder, ReminderState
from activities.tests.factories import ActivityFactory, ReminderFactory
from crm.models import Notification
from crm.tests.factories import UserFactory


class FailingBackend(LocmemBackend):
    """Stands in for an SMTP server that refuses the message."""

    def send_messages(self, messages):
        raise ConnectionRefusedError("SMTP server down")


def _due(owner=None, **kwargs) -> Reminder:
    owner = owner or UserFactory(email_reminders=True)
    activity = ActivityFactory(owner=owner, due_at=timezone.now() + timedelta(minutes=5))
    return ReminderFactory(activity=activity, remind_at=timezone.now() - timedelta(seconds=1), **kwargs)


@pytest.mark.django_db
class TestSweep:
    def test_it_sends_a_due_reminder_in_the_app_and_by_email(self):
        reminder = _due()
        assert services.reminder_sweep() == 1
        reminder.refresh_from_db()
        assert reminder.state == ReminderState.SENT
        assert reminder.sent_at and reminder.email_sent_at and reminder.notified_at
        notification = Notification.objects.get(dedupe_key=f"reminder:{reminder.pk}")
        assert notification.user == reminder.activity.owner
        assert notification.link == reminder.activity.get_absolute_url()
        assert len(mail.outbox) == 1
        assert reminder.activity.subject in mail.outbox[0].subject

    def test_it_skips_email_when_the_user_turned_it_off(self):
        reminder = _due(owner=UserFactory(email_reminders=False))
        services.reminder_sweep()
        reminder.refresh_from_db()
        assert reminder.state == ReminderState.SENT
        assert reminder.email_sent_at is None
        assert Notification.objects.filter(dedupe_key=f"reminder:{reminder.pk}").count() == 1
        assert mail.outbox == []

    def test_it_leaves_reminders_that_are_not_due_yet(self):
        reminder = _due()
        reminder.remind_at = timezone.now() + timedelta(minutes=1)
        reminder.save()
        assert services.reminder_sweep() == 0
        reminder.refresh_from_db()
        assert reminder.state == ReminderState.PENDING
        assert not Notification.objects.exists()

    def test_a_second_sweep_sends_nothing_again(self):
        _due()
        services.reminder_sweep()
        assert services.reminder_sweep() == 0
        assert Notification.objects.count() == 1
        assert len(mail.outbox) == 1

    def test_it_reclaims_a_reminder_whose_worker_died_after_the_lease(self, settings):
        settings.REMINDER_LEASE_SECONDS = 60
        reminder = _due()
        claimed = services.reminder_claim()
        assert claimed == [reminder.pk]
        # The worker that claimed it died: within the lease nobody else takes it...
        assert services.reminder_claim() == []
        # ...after the lease a later sweep does, and delivers it once.
        later = timezone.now() + timedelta(seconds=61)
        assert services.reminder_sweep(now=later) == 1
        reminder.refresh_from_db()
        assert reminder.state == ReminderState.SENT
        assert Notification.objects.count() == 1

    def test_redelivery_after_a_crash_never_doubles_the_notification(self):
        reminder = _due()
        # A previous delivery created the notification, then its worker died before "sent".
        Notification.objects.create(user=reminder.activity.owner, text="x", dedupe_key=f"reminder:{reminder.pk}")
        services.reminder_sweep()
        reminder.refresh_from_db()
        assert reminder.state == ReminderState.SENT
        assert Notification.objects.filter(dedupe_key=f"reminder:{reminder.pk}").count() == 1

    def test_it_does_not_send_a_cancelled_reminder(self):
        reminder = _due()
        services.reminder_cancel(reminder=reminder)
        assert services.reminder_sweep() == 0
        reminder.refresh_from_db()
        assert reminder.state == ReminderState.CANCELLED
        assert not Notification.objects.exists()

    def test_it_does_not_send_a_reminder_cancelled_after_the_claim(self):
        reminder = _due()
        services.reminder_claim()
        services.reminder_cancel(reminder=reminder)
        assert services.reminder_deliver(reminder_id=reminder.pk) == ReminderState.CANCELLED
        assert not Notification.objects.exists()

    def test_it_does_not_send_a_reminder_rescheduled_after_the_claim(self):
        reminder = _due()
        reminder.minutes_before = 5
        reminder.save()
        services.reminder_claim()
        activity = reminder.activity
        services.activity_reschedule(
            activity=activity, actor=activity.owner, due_at=activity.due_at + timedelta(hours=1)
        )
        assert services.reminder_deliver(reminder_id=reminder.pk) == ReminderState.PENDING
        reminder.refresh_from_db()
        assert reminder.remind_at == activity.due_at - timedelta(minutes=5)
        assert not Notification.objects.exists()

    def test_completing_the_activity_cancels_its_pending_reminders(self):
        reminder = _due()
        services.activity_set_done(activity=reminder.activity, actor=reminder.activity.owner)
        reminder.refresh_from_db()
        assert reminder.state == ReminderState.CANCELLED
        assert services.reminder_sweep() == 0


@pytest.mark.django_db
class TestEmailFailures:
    def test_a_failed_email_is_retried_with_backoff_and_recorded(self, settings):
        settings.EMAIL_BACKEND = "activities.tests.test_reminders.FailingBackend"
        reminder = _due()
        services.reminder_sweep()
        reminder.refresh_from_db()
        assert reminder.state == ReminderState.PENDING
        assert reminder.attempts == 1
        assert "SMTP server down" in reminder.last_error
        first_delay = reminder.next_attempt_at - timezone.now()
        assert timedelta(seconds=50) < first_delay <= timedelta(seconds=60)
        # The in-app notification went out regardless, and is not repeated by the retries.
        assert Notification.objects.count() == 1

        assert services.reminder_sweep() == 0  # not before next_attempt_at
        services.reminder_sweep(now=reminder.next_attempt_at + timedelta(seconds=1))
        reminder.refresh_from_db()
        assert reminder.attempts == 2
        assert reminder.next_attempt_at - timezone.now() > timedelta(seconds=110)  # doubled
        assert Notification.objects.count() == 1

    def test_it_gives_up_after_the_last_attempt(self, settings):
        settings.EMAIL_BACKEND = "activities.tests.test_reminders.FailingBackend"
        reminder = _due()
        now = timezone.now()
        for _attempt in range(services.REMINDER_EMAIL_MAX_ATTEMPTS):
            services.reminder_sweep(now=now)
            now += timedelta(hours=2)
        reminder.refresh_from_db()
        assert reminder.state == ReminderState.FAILED
        assert reminder.attempts == services.REMINDER_EMAIL_MAX_ATTEMPTS
        assert services.reminder_sweep(now=now) == 0

    def test_a_retry_that_succeeds_marks_the_reminder_sent(self, settings):
        settings.EMAIL_BACKEND = "activities.tests.test_reminders.FailingBackend"
        reminder = _due()
        services.reminder_sweep()
        settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
        services.reminder_sweep(now=timezone.now() + timedelta(minutes=5))
        reminder.refresh_from_db()
        assert reminder.state == ReminderState.SENT
        assert reminder.email_sent_at is not None
        assert len(mail.outbox) == 1


@pytest.mark.django_db
class TestRescheduling:
    def test_moving_the_due_time_moves_relative_reminders(self):
        activity = ActivityFactory(due_at=timezone.now() + timedelta(hours=1))
        relative = services.reminder_add(activity=activity, minutes_before=15)
        fixed_time = timezone.now() + timedelta(minutes=30)
        fixed = services.reminder_add(activity=activity, remind_at=fixed_time)
        new_due = activity.due_at + timedelta(days=1)
        services.activity_reschedule(activity=activity, actor=activity.owner, due_at=new_due)
        relative.refresh_from_db()
        fixed.refresh_from_db()
        assert relative.remind_at == new_due - timedelta(minutes=15)
        assert fixed.remind_at == fixed_time

    def test_a_sent_relative_reminder_gets_a_fresh_one_for_the_new_time(self):
        activity = ActivityFactory(owner=UserFactory(), due_at=timezone.now() + timedelta(minutes=10))
        sent = services.reminder_add(activity=activity, minutes_before=15)
        services.reminder_sweep()
        sent.refresh_from_db()
        assert sent.state == ReminderState.SENT
        services.activity_reschedule(
            activity=activity, actor=activity.owner, due_at=activity.due_at + timedelta(days=1)
        )
        assert activity.reminders.filter(state=ReminderState.PENDING, minutes_before=15).count() == 1

    def test_a_relative_reminder_needs_a_due_time(self):
        activity = ActivityFactory(due_at=None)
        with pytest.raises(ValueError):
            services.reminder_add(activity=activity, minutes_before=10)


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_in_parallel_threads_send_each_reminder_once():
    owner = UserFactory(email_reminders=True)
    reminders = [_due(owner=owner) for _ in range(60)]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def sweep() -> None:
        try:
            barrier.wait(timeout=10)
            services.reminder_sweep(batch_size=7)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert Reminder.objects.filter(state=ReminderState.SENT).count() == len(reminders)
    assert Notification.objects.count() == len(reminders)
    assert len(mail.outbox) == len(reminders)


@pytest.mark.django_db
def test_a_reminder_for_the_minute_that_just_turned_is_accepted_an_older_one_is_not():
    """The reminder time has minute precision: 12:05 typed at 12:05:59 and sent at 12:06:01 is
    the moment the user meant (due at once); 12:04 has passed."""
    import datetime as dt
    from unittest import mock

    from activities.forms import ReminderForm

    activity = ActivityFactory(owner=UserFactory())
    sent_at = dt.datetime(2026, 12, 6, 12, 6, 1, tzinfo=dt.UTC)

    def form(typed: dt.datetime) -> ReminderForm:
        local = timezone.localtime(typed).strftime("%Y-%m-%dT%H:%M")
        return ReminderForm({"remind_at": local}, activity=activity)

    with mock.patch("activities.forms.timezone.now", return_value=sent_at):
        assert form(dt.datetime(2026, 12, 6, 12, 5, tzinfo=dt.UTC)).is_valid()
        assert form(dt.datetime(2026, 12, 6, 12, 6, tzinfo=dt.UTC)).is_valid()
        late = form(dt.datetime(2026, 12, 6, 12, 4, tzinfo=dt.UTC))
        assert not late.is_valid()
        assert late.errors["remind_at"] == ["That time has passed."]
