"""Writes on activities, reminders, the timeline, calendar feeds and digests.

Reminder delivery guarantees (README, "Activities, reminders and the timeline"):

- No reminder is lost: the due time lives in the database and a sweep every minute claims
  due rows (``select_for_update(skip_locked=True)``), marking them "sending" with a
  ``claimed_at``. A worker killed after claiming leaves rows in "sending"; once their lease
  (``REMINDER_LEASE_SECONDS``) runs out, a later sweep claims them again.
- No in-app reminder is doubled: delivery locks the row, re-checks it is still due and
  claimed, and creates the notification with ``dedupe_key="reminder:<id>"`` (unique) in the
  same transaction that marks the reminder sent.
- Email is sent only while ``email_sent_at`` is empty and that time is committed right
  after the SMTP server accepts the message. A worker killed in the few milliseconds between
  the two sends that one email again on redelivery: email is at-least-once, by choice — a
  lost reminder costs more than a rare duplicate.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from datetime import date, datetime, timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.db.models.functions import Greatest
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from activities.models import (
    Activity,
    ActivityType,
    CalendarFeed,
    DigestLog,
    Reminder,
    ReminderState,
    TimelineEvent,
)
from activities.signals import activity_completed
from contacts.models import Company, Contact
from crm.bulk import copy_instances
from crm.html import DateText
from crm.i18n import user_locale
from crm.models import User
from crm.services import notification_create
from crm.versioning import bump, lock_versioned
from deals.models import Deal

logger = logging.getLogger(__name__)

REMINDER_BATCH_SIZE = 100
REMINDER_EMAIL_MAX_ATTEMPTS = 5
REMINDER_EMAIL_BACKOFF_SECONDS = 60  # doubled after each failed attempt, capped at an hour


def _lease() -> timedelta:
    return timedelta(seconds=getattr(settings, "REMINDER_LEASE_SECONDS", 300))


# --- Activity types -----------------------------------------------------------------------

BUILTIN_TYPES = [
    # key, name, icon, colour, has_due, has_duration, has_outcome, has_attendees, position
    ("call", "Call", "bi-telephone", "#0d6efd", False, True, True, False, 10),
    ("meeting", "Meeting", "bi-people", "#6f42c1", True, True, True, True, 20),
    ("email", "Email", "bi-envelope", "#198754", False, False, False, False, 30),
    ("task", "Task", "bi-check2-square", "#fd7e14", True, False, False, False, 40),
    ("note", "Note", "bi-journal-text", "#6c757d", False, False, False, False, 50),
]


# Time a built-in activity usually takes (cost to serve); as migration 0009 sets them.
BUILTIN_DEFAULT_MINUTES = {"call": 15, "meeting": 60, "email": 10, "task": 15, "note": 0}


def activity_types_ensure_builtin() -> None:
    """Create any missing built-in type (the data migration does this on a fresh database;
    demo seeding and tests call it after a flush emptied the table)."""
    for key, name, icon, color, has_due, has_duration, has_outcome, has_attendees, position in BUILTIN_TYPES:
        ActivityType.objects.get_or_create(
            key=key,
            defaults={
                "name": name,
                "icon": icon,
                "color": color,
                "has_due": has_due,
                "has_duration": has_duration,
                "has_outcome": has_outcome,
                "has_attendees": has_attendees,
                "position": position,
                "default_minutes": BUILTIN_DEFAULT_MINUTES.get(key, 0),
            },
        )


# --- Activities ---------------------------------------------------------------------------


def _touch_deal(activity: Activity) -> None:
    """Keep ``Deal.last_activity_at`` (the deals' staleness input) at the latest done activity."""
    if activity.deal_id and activity.done_at:
        Deal.objects.filter(pk=activity.deal_id).update(
            last_activity_at=Greatest(F("last_activity_at"), activity.done_at)
        )
        # GREATEST ignores NULLs in PostgreSQL, so a deal's first activity sets the value too.


def _sync_timeline(activity: Activity) -> None:
    company_id = activity.company_id
    if company_id is None and activity.contact_id:
        company_id = Contact.objects.filter(pk=activity.contact_id).values_list("company_id", flat=True).first()
    if company_id is None and activity.deal_id:
        company_id = Deal.objects.filter(pk=activity.deal_id).values_list("company_id", flat=True).first()
    TimelineEvent.objects.update_or_create(
        activity=activity,
        defaults={
            "kind": "activity",
            "title": activity.subject,
            "occurred_at": activity.occurred_at,
            "actor_id": activity.created_by_id or activity.owner_id,
            "company_id": company_id,
            "contact_id": activity.contact_id,
            "deal_id": activity.deal_id,
        },
    )


@transaction.atomic
def activity_create(
    *,
    actor: User,
    type: ActivityType,
    subject: str,
    owner: User | None = None,
    body: str = "",
    company: Company | None = None,
    contact: Contact | None = None,
    deal: Deal | None = None,
    due_at: datetime | None = None,
    ends_at: datetime | None = None,
    duration_minutes: int | None = None,
    time_spent_minutes: int | None = None,
    outcome: str = "",
    done: bool = False,
    done_at: datetime | None = None,
    attendee_users: Iterable[User] = (),
    attendee_contacts: Iterable[Contact] = (),
    remind_minutes_before: int | None = None,
) -> Activity:
    """Log (``done``) or plan an activity; record it on the timeline and touch its deal.

    ``done_at``: when a logged activity happened (a captured email's date), else now."""
    activity = Activity.objects.create(
        type=type,
        subject=subject,
        body=body,
        owner=owner or actor,
        created_by=actor,
        company=company,
        contact=contact,
        deal=deal,
        due_at=due_at,
        ends_at=ends_at,
        duration_minutes=duration_minutes,
        time_spent_minutes=time_spent_minutes,
        outcome=outcome,
        done_at=(done_at or timezone.now()) if done else None,
    )
    if attendee_users:
        activity.attendee_users.set(attendee_users)
    if attendee_contacts:
        activity.attendee_contacts.set(attendee_contacts)
    _sync_timeline(activity)
    _touch_deal(activity)
    if remind_minutes_before is not None and due_at is not None and not done:
        reminder_add(activity=activity, minutes_before=remind_minutes_before)
    if done:
        activity_completed.send(sender=Activity, activity=activity, actor=actor)
    return activity


def _locked(activity: Activity, *, version: int | None = None, submitted: dict | None = None) -> Activity:
    """The activity's row locked for this transaction, checked against the ``version`` the
    editor loaded (``VersionConflict`` lists the fields whose saved value differs)."""
    return lock_versioned(activity, version=version, fields=list(submitted or {}), submitted=submitted)


@transaction.atomic
def activity_update(*, activity: Activity, actor: User, version: int | None = None, **fields: object) -> Activity:
    """Change an activity's fields; a new due time moves its relative reminders.

    ``version`` is what the editor loaded: when someone saved the activity since,
    ``VersionConflict`` lists the differences and nothing is written (``None``: no check).
    """
    activity = _locked(activity, version=version, submitted=fields)
    attendee_users = fields.pop("attendee_users", None)
    attendee_contacts = fields.pop("attendee_contacts", None)
    old_due = activity.due_at
    for name, value in fields.items():
        setattr(activity, name, value)
    bump(activity)
    activity.save()
    if attendee_users is not None:
        activity.attendee_users.set(attendee_users)
    if attendee_contacts is not None:
        activity.attendee_contacts.set(attendee_contacts)
    if activity.due_at != old_due:
        _move_reminders(activity)
    _sync_timeline(activity)
    _touch_deal(activity)
    return activity


@transaction.atomic
def activity_set_done(*, activity: Activity, actor: User, done: bool = True) -> Activity:
    """Complete (or reopen) an activity. Completing it cancels reminders not yet sent."""
    activity = _locked(activity)
    if activity.is_done == done:
        return activity  # already so (a repeated or stale click): nothing changes
    activity.done_at = timezone.now() if done else None
    bump(activity)
    activity.save(update_fields=["done_at", "updated_at", "version"])
    if done:
        Reminder.objects.filter(activity=activity, state=ReminderState.PENDING).update(state=ReminderState.CANCELLED)
    _sync_timeline(activity)
    _touch_deal(activity)
    if done:
        activity_completed.send(sender=Activity, activity=activity, actor=actor)
    return activity


@transaction.atomic
def activity_reschedule(*, activity: Activity, actor: User, due_at: datetime) -> Activity:
    """Move an activity (keeping a meeting's length); relative reminders move with it."""
    activity = _locked(activity)
    if activity.ends_at and activity.due_at:
        activity.ends_at = due_at + (activity.ends_at - activity.due_at)
    activity.due_at = due_at
    bump(activity)
    activity.save(update_fields=["due_at", "ends_at", "updated_at", "version"])
    _move_reminders(activity)
    _sync_timeline(activity)
    return activity


@transaction.atomic
def activity_delete(*, activity: Activity, actor: User) -> None:
    activity.delete()


def _move_reminders(activity: Activity) -> None:
    """Re-aim "N minutes before" reminders at the new due time.

    A reminder not yet delivered moves (even one a sweep has claimed: delivery re-checks
    ``remind_at`` under the row lock, so it is not sent at the old time). One that was
    already sent stays as history and a fresh one is added for the new time.
    """
    if activity.due_at is None:
        activity.reminders.filter(state__in=[ReminderState.PENDING, ReminderState.SENDING]).update(
            state=ReminderState.CANCELLED
        )
        return
    now = timezone.now()
    for reminder in activity.reminders.select_for_update().filter(minutes_before__isnull=False):
        new_time = activity.due_at - timedelta(minutes=reminder.minutes_before)
        if reminder.state in (ReminderState.PENDING, ReminderState.SENDING):
            reminder.remind_at = new_time
            reminder.state = ReminderState.PENDING
            reminder.claimed_at = None
            reminder.save(update_fields=["remind_at", "state", "claimed_at"])
        elif reminder.state in (ReminderState.SENT, ReminderState.FAILED) and new_time > now:
            already = activity.reminders.filter(minutes_before=reminder.minutes_before, state=ReminderState.PENDING)
            if not already.exists():
                Reminder.objects.create(activity=activity, minutes_before=reminder.minutes_before, remind_at=new_time)


# --- Reminders ----------------------------------------------------------------------------


def reminder_add(
    *, activity: Activity, remind_at: datetime | None = None, minutes_before: int | None = None
) -> Reminder:
    """A reminder at a time, or ``minutes_before`` the activity's due time."""
    if minutes_before is not None:
        if activity.due_at is None:
            raise ValueError("A relative reminder needs an activity with a due time.")
        remind_at = activity.due_at - timedelta(minutes=minutes_before)
    if remind_at is None:
        raise ValueError("Give remind_at or minutes_before.")
    return Reminder.objects.create(activity=activity, remind_at=remind_at, minutes_before=minutes_before)


@transaction.atomic
def reminder_cancel(*, reminder: Reminder) -> Reminder:
    """Cancel a reminder not yet delivered; waits for a delivery in progress to finish."""
    reminder = Reminder.objects.select_for_update().get(pk=reminder.pk)
    if reminder.state in (ReminderState.PENDING, ReminderState.SENDING):
        reminder.state = ReminderState.CANCELLED
        reminder.save(update_fields=["state"])
    return reminder


def reminder_claim(*, now: datetime | None = None, batch_size: int = REMINDER_BATCH_SIZE) -> list[int]:
    """Claim up to ``batch_size`` due reminders for this worker (short transaction).

    Rows another sweep holds are skipped, never waited for; rows stuck in "sending" past
    the lease (their worker died) are claimed again.
    """
    now = now or timezone.now()
    due = Q(state=ReminderState.PENDING, remind_at__lte=now) & (
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )
    stale = Q(state=ReminderState.SENDING, claimed_at__lt=now - _lease())
    with transaction.atomic():
        ids = list(
            Reminder.objects.select_for_update(skip_locked=True)
            .filter(due | stale)
            .order_by("remind_at", "id")
            .values_list("id", flat=True)[:batch_size]
        )
        if ids:
            Reminder.objects.filter(pk__in=ids).update(state=ReminderState.SENDING, claimed_at=now)
    return ids


def _reminder_text(activity: Activity) -> str:
    """In the assignee's language and time zone: the in-app text is stored, the email is sent."""
    with user_locale(activity.owner):
        when = DateText().day_time(timezone.localtime(activity.due_at)) if activity.due_at else ""
        return _("Reminder: %(subject)s %(when)s") % {"subject": activity.subject, "when": when}


def reminder_deliver(*, reminder_id: int, now: datetime | None = None) -> str:
    """Deliver one claimed reminder; returns its resulting state.

    Runs in one transaction holding the reminder's row lock, so a concurrent cancel or
    reschedule either happens before (and is seen here) or waits until the reminder is sent.
    """
    now = now or timezone.now()
    with transaction.atomic():
        reminder = (
            Reminder.objects.select_for_update(of=("self",))
            .select_related("activity__owner", "activity__type")
            .filter(pk=reminder_id)
            .first()
        )
        if reminder is None or reminder.state != ReminderState.SENDING:
            return reminder.state if reminder else "missing"
        if reminder.remind_at > now or reminder.activity.done_at is not None:
            # Rescheduled after the claim, or the work was done meanwhile: not at this time.
            reminder.state = ReminderState.PENDING if reminder.remind_at > now else ReminderState.CANCELLED
            reminder.claimed_at = None
            reminder.save(update_fields=["state", "claimed_at"])
            return reminder.state
        activity = reminder.activity
        user = activity.owner
        if reminder.notified_at is None:
            notification_create(
                user=user,
                text=_reminder_text(activity),
                link=activity.get_absolute_url(),
                dedupe_key=reminder.dedupe_key,
            )
            reminder.notified_at = now
        wants_email = user.email_reminders and bool(user.email) and user.is_active
        if wants_email and reminder.email_sent_at is None:
            try:
                _send_reminder_email(reminder)
            except SoftTimeLimitExceeded:
                raise  # the task is out of time: roll back, the lease hands the reminder on
            except Exception as exc:  # noqa: BLE001 - any SMTP/backend failure is retried and recorded
                return _record_email_failure(reminder, exc, now)
            reminder.email_sent_at = timezone.now()
        reminder.state = ReminderState.SENT
        reminder.sent_at = timezone.now()
        reminder.last_error = ""
        reminder.next_attempt_at = None
        reminder.save()
        return reminder.state


def _record_email_failure(reminder: Reminder, exc: Exception, now: datetime) -> str:
    reminder.attempts += 1
    reminder.last_error = f"{exc.__class__.__name__}: {exc}"[:2000]
    reminder.claimed_at = None
    if reminder.attempts >= REMINDER_EMAIL_MAX_ATTEMPTS:
        reminder.state = ReminderState.FAILED
        reminder.next_attempt_at = None
    else:
        delay = min(REMINDER_EMAIL_BACKOFF_SECONDS * 2 ** (reminder.attempts - 1), 3600)
        reminder.state = ReminderState.PENDING
        reminder.next_attempt_at = now + timedelta(seconds=delay)
    reminder.save()
    logger.warning("Reminder %s email failed (attempt %s): %s", reminder.pk, reminder.attempts, reminder.last_error)
    return reminder.state


def _send_reminder_email(reminder: Reminder) -> None:
    activity = reminder.activity
    context = {"activity": activity, "url": settings.SITE_URL + activity.get_absolute_url()}
    with user_locale(activity.owner):
        subject = _reminder_text(activity)
        message = render_to_string("activities/email/reminder.txt", context)
    send_mail(subject=subject, message=message, from_email=None, recipient_list=[activity.owner.email])


def reminder_sweep(
    *,
    now: datetime | None = None,
    batch_size: int = REMINDER_BATCH_SIZE,
    max_batches: int = 20,
    time_budget: float = 50.0,
) -> int:
    """Claim due reminders batch by batch and deliver them; returns how many were claimed.

    Small batches keep each claim short and spread a backlog over concurrent sweeps; the
    time budget stops claiming well before the next minute's sweep and the task's time limit,
    so a slow mail server delays reminders instead of stranding claimed ones.
    """
    started = time.monotonic()
    total = 0
    for _batch in range(max_batches):
        ids = reminder_claim(now=now, batch_size=batch_size)
        for reminder_id in ids:
            reminder_deliver(reminder_id=reminder_id, now=now)
        total += len(ids)
        if len(ids) < batch_size or time.monotonic() - started > time_budget:
            break
    return total


# --- Timeline -----------------------------------------------------------------------------


def timeline_record(
    *,
    kind: str,
    title: str,
    occurred_at: datetime | None = None,
    actor: User | None = None,
    company: Company | None = None,
    contact: Contact | None = None,
    deal: Deal | None = None,
    body: str = "",
    data: dict | None = None,
    source: str = "crm",
) -> TimelineEvent:
    """Add an event to the customers' timelines (the company is derived when not given)."""
    if company is None and contact is not None:
        company = contact.company
    if company is None and deal is not None:
        company = deal.company
    return TimelineEvent.objects.create(
        kind=kind[:40],
        source=source[:40],
        title=title[:300],
        body=body,
        data=data or {},
        occurred_at=occurred_at or timezone.now(),
        actor=actor,
        company=company,
        contact=contact,
        deal=deal,
    )


def timeline_record_many(*, events: list[dict]) -> int:
    """Add many events in bulk (``events``: dicts with ``timeline_record``'s keywords), written
    with ``COPY`` (an import adds one per record, 100,000 at a time)."""
    now = timezone.now()
    rows = []
    for event in events:
        company = event.get("company")
        contact = event.get("contact")
        deal = event.get("deal")
        company_id = company.pk if company is not None else None
        if company_id is None and contact is not None:
            company_id = contact.company_id  # the id alone: no query per event
        rows.append(
            TimelineEvent(
                kind=event["kind"][:40],
                source=(event.get("source") or "crm")[:40],
                title=event["title"][:300],
                body=event.get("body") or "",
                data=event.get("data") or {},
                occurred_at=event.get("occurred_at") or now,
                actor=event.get("actor"),
                company_id=company_id,
                contact=contact,
                deal=deal,
            )
        )
    copy_instances(TimelineEvent, rows)
    return len(rows)


# --- Calendar feed ------------------------------------------------------------------------


def calendar_feed_get_or_create(*, user: User) -> CalendarFeed:
    feed, _created = CalendarFeed.objects.get_or_create(user=user)
    return feed


def calendar_feed_regenerate(*, user: User) -> CalendarFeed:
    """A new secret URL; the old one answers 404 from now on."""
    CalendarFeed.objects.filter(user=user).delete()
    return CalendarFeed.objects.create(user=user)


# --- Daily digest -------------------------------------------------------------------------


def digest_send(*, user: User, day: date) -> bool:
    """Email ``user`` the day's open activities, once per day. Returns whether one was sent.

    The DigestLog row is committed only after the email left, so a failure is retried by the
    next run; a crash between the two may send a second digest (at-least-once, like email
    reminders).
    """
    if DigestLog.objects.filter(user=user, day=day).exists():
        return False
    start = timezone.make_aware(datetime.combine(day, datetime.min.time()))
    end = start + timedelta(days=1)
    activities = list(
        Activity.objects.filter(owner=user, done_at__isnull=True)
        .filter(Q(due_at__gte=start, due_at__lt=end) | Q(due_at__lt=start))
        .select_related("type", "company", "contact", "deal")
        .order_by("due_at")[:100]
    )
    if not activities:
        return False
    context = {"user": user, "day": day, "activities": activities, "site_url": settings.SITE_URL, "start": start}
    with user_locale(user):
        subject = ngettext(
            "Your day: %(count)d open activity", "Your day: %(count)d open activities", len(activities)
        ) % {"count": len(activities)}
        message = render_to_string("activities/email/digest.txt", context)
    send_mail(subject=subject, message=message, from_email=None, recipient_list=[user.email])
    try:
        DigestLog.objects.create(user=user, day=day)
    except IntegrityError:
        return False
    return True


def digest_send_all(*, day: date | None = None) -> int:
    day = day or timezone.localdate()
    sent = 0
    for user in User.objects.filter(daily_digest=True, is_active=True).exclude(email=""):
        try:
            sent += digest_send(user=user, day=day)
        except Exception:
            logger.exception("Daily digest to user %s failed", user.pk)
    return sent
