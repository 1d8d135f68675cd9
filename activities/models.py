"""Activities (calls, meetings, emails, tasks, notes and admin-defined types), their
reminders, and the customer timeline every app feeds.

Reminder state machine (see ``services.reminder_sweep``)::

    pending ──claim──▶ sending ──deliver──▶ sent
       ▲                  │  └──email fails, attempts left──▶ pending (next_attempt_at)
       │                  └──email fails, no attempts left──▶ failed
       └─ reschedule        cancel (pending/sending) ──▶ cancelled
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Self

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from contacts.models import Company, Contact
from crm.models import OwnedQuerySet
from deals.models import Deal

# The built-in types' names as the data migration writes them: shown translated while an admin
# has not renamed the type (a renamed or added type shows its own name in every language).
BUILTIN_TYPE_NAMES = {
    "call": gettext_noop("Call"),
    "meeting": gettext_noop("Meeting"),
    "email": gettext_noop("Email"),
    "task": gettext_noop("Task"),
    "note": gettext_noop("Note"),
}


class ActivityType(models.Model):
    """A kind of activity. The five built-in ones have a ``key``; admins add more."""

    name = models.CharField(_("name"), max_length=60, unique=True)
    key = models.SlugField(
        _("key"), max_length=30, unique=True, help_text=_("Short machine name, e.g. call, demo, site-visit.")
    )
    icon = models.CharField(
        _("icon"), max_length=40, default="bi-circle", help_text=_("A Bootstrap Icons class, e.g. bi-telephone.")
    )
    color = models.CharField(
        _("colour"),
        max_length=7,
        default="#6c757d",
        help_text=_("Hex colour, e.g. #0d6efd."),
    )
    has_due = models.BooleanField(_("has a due time"), default=False)
    has_duration = models.BooleanField(_("has start, end and duration"), default=False)
    has_outcome = models.BooleanField(_("has an outcome"), default=False)
    has_attendees = models.BooleanField(_("has attendees"), default=False)
    default_minutes = models.PositiveIntegerField(
        _("default time spent (minutes)"),
        default=0,
        help_text=_("Time an activity of this type takes unless the person logging it says otherwise (cost to serve)."),
    )
    position = models.PositiveSmallIntegerField(_("position"), default=100)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["position", "name"]
        constraints = [
            models.CheckConstraint(condition=Q(color__regex=r"^#[0-9a-fA-F]{6}$"), name="activitytype_color_hex"),
        ]
        verbose_name = _("activity type")
        verbose_name_plural = _("activity types")

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        """The name in the reader's language: "Звонок" for the built-in "Call"."""
        builtin = BUILTIN_TYPE_NAMES.get(self.key)
        if builtin is not None and self.name == builtin:
            return gettext(builtin)
        return self.name


class ActivityOutcome(models.Model):
    """An outcome an admin offers for one activity type ("Connected", "Left a voicemail" for
    calls): the log form's outcome is a pick from these. The activity keeps the outcome's name
    as text, so older free-text outcomes stay as they were written."""

    type = models.ForeignKey(
        ActivityType, on_delete=models.CASCADE, related_name="outcomes", verbose_name=_("activity type")
    )
    name = models.CharField(_("name"), max_length=200)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["type", "position", "name"]
        constraints = [
            models.UniqueConstraint(fields=["type", "name"], name="activityoutcome_unique_name_per_type"),
        ]
        verbose_name = _("activity outcome")
        verbose_name_plural = _("activity outcomes")

    def __str__(self) -> str:
        return self.name


class ActivityQuerySet(OwnedQuerySet):
    def open(self) -> Self:
        return self.filter(done_at__isnull=True)

    def done(self) -> Self:
        return self.filter(done_at__isnull=False)

    def overdue(self, now: datetime | None = None) -> Self:
        return self.open().filter(due_at__lt=now or timezone.now())

    def with_related(self) -> Self:
        return self.select_related("type", "owner", "company", "contact", "deal")


class Activity(models.Model):
    type = models.ForeignKey(ActivityType, on_delete=models.PROTECT, related_name="activities", verbose_name=_("type"))
    # Deleting a customer record keeps the work logged on it (the assignee's history).
    subject = models.CharField(_("subject"), max_length=200)
    body = models.TextField(_("notes"), blank=True)
    # The owner is also the assignee: the person who has to do it and who gets its reminders.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="activities", verbose_name=_("assignee")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    company = models.ForeignKey(
        Company, on_delete=models.SET_NULL, null=True, blank=True, related_name="activities", verbose_name=_("company")
    )
    contact = models.ForeignKey(
        Contact, on_delete=models.SET_NULL, null=True, blank=True, related_name="activities", verbose_name=_("contact")
    )
    deal = models.ForeignKey(
        Deal, on_delete=models.SET_NULL, null=True, blank=True, related_name="activities", verbose_name=_("deal")
    )
    due_at = models.DateTimeField(_("due / starts"), null=True, blank=True)
    ends_at = models.DateTimeField(_("ends"), null=True, blank=True)
    duration_minutes = models.PositiveIntegerField(_("duration (minutes)"), null=True, blank=True)
    # Work time for the cost to serve; NULL: the type's default.
    time_spent_minutes = models.PositiveIntegerField(_("time spent (minutes)"), null=True, blank=True)
    outcome = models.CharField(_("outcome"), max_length=200, blank=True)
    attendee_users = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="meetings", verbose_name=_("attending colleagues")
    )
    attendee_contacts = models.ManyToManyField(
        Contact, blank=True, related_name="meetings", verbose_name=_("attending contacts")
    )
    done_at = models.DateTimeField(_("done"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    # Optimistic locking: every write bumps it; a form posted with an older value conflicts.
    version = models.PositiveIntegerField(default=1, editable=False)

    objects = ActivityQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("activity")
        verbose_name_plural = _("activities")
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__isnull=True) | Q(due_at__isnull=False, ends_at__gte=models.F("due_at")),
                name="activity_ends_after_start",
            ),
        ]
        indexes = [
            # My day, the calendar and the open/overdue filters: an assignee's open work by due time.
            models.Index(fields=["owner", "due_at"], condition=Q(done_at__isnull=True), name="activity_owner_open_due"),
            models.Index(fields=["owner", "due_at", "id"], name="activity_owner_due"),
            models.Index(fields=["owner", "-created_at", "-id"], name="activity_owner_created"),
            models.Index(fields=["-created_at", "-id"], name="activity_created"),
            # The API's keyset pages and ?updated_since= (integrations).
            models.Index(fields=["updated_at", "id"], name="activity_updated"),
            models.Index(fields=["type", "-created_at"], name="activity_type_created"),
            models.Index(fields=["company", "-created_at"], name="activity_company"),
            # The cost to serve of a few customers (incremental customer-value refresh).
            models.Index(
                fields=["company", "done_at"], condition=Q(done_at__isnull=False), name="activity_company_done"
            ),
            models.Index(fields=["contact", "-created_at"], name="activity_contact"),
            # The kanban's "next activity": open activities of a deal by due time.
            models.Index(fields=["deal", "due_at"], condition=Q(done_at__isnull=True), name="activity_deal_open_due"),
            models.Index(fields=["deal", "-created_at"], name="activity_deal"),
            # The activity report's overdue tasks per owner: an index-only count of open work.
            models.Index(
                fields=["type", "owner", "due_at", "id"],
                condition=Q(done_at__isnull=True),
                name="activity_open_type_owner",
            ),
            # Global search (``subject ILIKE '%…%'``); without it a search reads all activities.
            GinIndex(fields=["subject"], opclasses=["gin_trgm_ops"], name="activity_subject_trgm"),
        ]

    def __str__(self) -> str:
        return self.subject

    def get_absolute_url(self) -> str:
        return reverse("activities:detail", args=[self.pk])

    @property
    def is_done(self) -> bool:
        return self.done_at is not None

    @property
    def is_overdue(self) -> bool:
        return self.done_at is None and self.due_at is not None and self.due_at < timezone.now()

    @property
    def occurred_at(self) -> datetime:
        """Where the activity sits on a timeline: when it was done, else when it is due."""
        return self.done_at or self.due_at or self.created_at


class ReminderState(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


class Reminder(models.Model):
    """A reminder of an activity to its assignee, in the app and (per preference) by email.

    The due time lives here, not in a Celery ``eta``: a sweep claims due rows every minute.
    """

    activity = models.ForeignKey(Activity, on_delete=models.CASCADE, related_name="reminders")
    # Set for "N minutes before": moving the activity's due time moves the reminder.
    minutes_before = models.PositiveIntegerField(_("minutes before"), null=True, blank=True)
    remind_at = models.DateTimeField(_("remind at"))
    state = models.CharField(_("state"), max_length=10, choices=ReminderState.choices, default=ReminderState.PENDING)
    claimed_at = models.DateTimeField(null=True, blank=True)
    notified_at = models.DateTimeField(_("in-app notification"), null=True, blank=True)
    email_sent_at = models.DateTimeField(_("email sent"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("email attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next email attempt"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    class Meta:
        ordering = ["remind_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(state="sent") | Q(sent_at__isnull=False), name="reminder_sent_has_sent_at"
            ),
        ]
        indexes = [
            # The sweep's two questions: what is due, and whose claim has outlived its lease.
            models.Index(fields=["remind_at"], condition=Q(state="pending"), name="reminder_pending_due"),
            models.Index(fields=["claimed_at"], condition=Q(state="sending"), name="reminder_sending_claimed"),
        ]
        verbose_name = _("reminder")
        verbose_name_plural = _("reminders")

    def __str__(self) -> str:
        return f"{self.activity} @ {self.remind_at:%Y-%m-%d %H:%M}"

    @property
    def dedupe_key(self) -> str:
        return f"reminder:{self.pk}"

    @property
    def is_active(self) -> bool:
        return self.state in (ReminderState.PENDING, ReminderState.SENDING)


class TimelineEvent(models.Model):
    """One entry in a customer's history: an activity, a stage change, a merge, an import,
    or anything another system pushes (``source``) — the kinds are open-ended strings."""

    kind = models.CharField(_("kind"), max_length=40)
    source = models.CharField(_("source"), max_length=40, default="crm")
    title = models.CharField(_("title"), max_length=300)
    body = models.TextField(_("body"), blank=True)
    data = models.JSONField(_("details"), default=dict, blank=True)
    occurred_at = models.DateTimeField(_("when"), default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    company = models.ForeignKey(Company, on_delete=models.CASCADE, null=True, blank=True, related_name="timeline")
    # A deleted contact or deal leaves its history on the company's timeline.
    contact = models.ForeignKey(Contact, on_delete=models.SET_NULL, null=True, blank=True, related_name="timeline")
    deal = models.ForeignKey(Deal, on_delete=models.SET_NULL, null=True, blank=True, related_name="timeline")
    activity = models.OneToOneField(
        Activity, on_delete=models.CASCADE, null=True, blank=True, related_name="timeline_event"
    )

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["company", "-occurred_at", "-id"], name="timeline_company"),
            models.Index(fields=["contact", "-occurred_at", "-id"], name="timeline_contact"),
            models.Index(fields=["deal", "-occurred_at", "-id"], name="timeline_deal"),
            models.Index(fields=["kind"], name="timeline_kind"),
        ]
        verbose_name = _("timeline event")
        verbose_name_plural = _("timeline events")

    def __str__(self) -> str:
        return self.title


def _new_token() -> str:
    return secrets.token_urlsafe(24)


class CalendarFeed(models.Model):
    """The secret behind a user's personal ``.ics`` URL; regenerating it revokes the old URL."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feed")
    token = models.CharField(max_length=64, unique=True, default=_new_token)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("calendar feed")
        verbose_name_plural = _("calendar feeds")

    def __str__(self) -> str:
        return f"{self.user} calendar feed"

    def get_absolute_url(self) -> str:
        return reverse("activities:ics", args=[self.token])


class DigestLog(models.Model):
    """One row per user per day a digest went out: makes the daily digest idempotent."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "day"], name="digestlog_unique_user_day")]

    def __str__(self) -> str:
        return f"{self.user} {self.day}"
