"""Service cases, their queues' calendars, SLA policies and timers, and satisfaction surveys.

A case belongs to a queue, which is a ``crm.Team``: the team's members and managers see it
(``CaseQuerySet.visible_to``). Its SLA due times are computed in business time of the
team's calendar (``service.sla``) and stored on the case; the beat sweep finds due
``SlaTimer`` rows (one warning and one breach per target) and claims them like reminders::

    pending ──claim──▶ sending ──deliver──▶ sent
       ▲                  │
       └─ paused (due_at NULL) / rescheduled    target met or case resolved ──▶ cancelled
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Self

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from activities.models import Activity
from contacts.models import Company, Contact
from crm.models import Team, User


class CasePriority(models.TextChoices):
    LOW = "low", _("Low")
    NORMAL = "normal", _("Normal")
    HIGH = "high", _("High")
    URGENT = "urgent", _("Urgent")


class CaseStatus(models.TextChoices):
    NEW = "new", _("New")
    OPEN = "open", _("Open")
    WAITING = "waiting", _("Waiting on customer")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")


# While a case is in one of these, its SLA clock runs.
RUNNING_STATUSES = frozenset({CaseStatus.NEW, CaseStatus.OPEN})
ACTIVE_STATUSES = frozenset({CaseStatus.NEW, CaseStatus.OPEN, CaseStatus.WAITING})


class CaseChannel(models.TextChoices):
    PHONE = "phone", _("Phone")
    EMAIL = "email", _("Email")
    WEB = "web", _("Web")
    API = "api", _("API")


class TeamCalendar(models.Model):
    """A queue's working hours: SLA clocks count only these (no calendar: around the clock)."""

    team = models.OneToOneField(Team, on_delete=models.CASCADE, related_name="service_calendar", verbose_name=_("team"))
    time_zone = models.CharField(_("time zone"), max_length=64, default="UTC")
    # ISO weekdays (1 = Monday … 7 = Sunday) as digits, e.g. "12345".
    weekdays = models.CharField(
        _("working days"), max_length=7, default="12345", help_text=_("ISO weekday digits: 1 = Monday … 7 = Sunday.")
    )
    start = models.TimeField(_("working hours start"), default="09:00")
    end = models.TimeField(_("working hours end"), default="17:00")
    around_the_clock = models.BooleanField(_("around the clock (24/7)"), default=False)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(weekdays__regex=r"^[1-7]{0,7}$"), name="teamcalendar_weekdays_digits"),
            models.CheckConstraint(condition=Q(start__lt=models.F("end")), name="teamcalendar_start_before_end"),
        ]
        verbose_name = _("team calendar")
        verbose_name_plural = _("team calendars")

    def __str__(self) -> str:
        return str(self.team)


class Holiday(models.Model):
    calendar = models.ForeignKey(TeamCalendar, on_delete=models.CASCADE, related_name="holidays")
    day = models.DateField(_("day"))
    name = models.CharField(_("name"), max_length=100, blank=True)

    class Meta:
        ordering = ["day"]
        constraints = [models.UniqueConstraint(fields=["calendar", "day"], name="holiday_unique_day")]
        verbose_name = _("holiday")
        verbose_name_plural = _("holidays")

    def __str__(self) -> str:
        return f"{self.day} {self.name}".strip()


class SlaPolicy(models.Model):
    """Targets for one priority; a team's own policy wins over the one for every team."""

    team = models.ForeignKey(
        Team,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="sla_policies",
        verbose_name=_("team"),
        help_text=_("Empty: for every queue without a policy of its own."),
    )
    priority = models.CharField(_("priority"), max_length=10, choices=CasePriority.choices)
    first_response_minutes = models.PositiveIntegerField(
        _("first response within (business minutes)"), validators=[MinValueValidator(1)]
    )
    resolution_minutes = models.PositiveIntegerField(
        _("resolution within (business minutes)"), validators=[MinValueValidator(1)]
    )
    warning_minutes = models.PositiveIntegerField(
        _("warn the assignee this many business minutes before a breach"), default=30
    )

    class Meta:
        ordering = ["team__name", "priority"]
        constraints = [
            models.UniqueConstraint(fields=["team", "priority"], name="slapolicy_unique_team_priority"),
            models.UniqueConstraint(
                fields=["priority"], condition=Q(team__isnull=True), name="slapolicy_unique_default_priority"
            ),
        ]
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")

    def __str__(self) -> str:
        queues = self.team or _("All queues")
        return f"{queues}: {self.get_priority_display()}"


class CaseQuerySet(models.QuerySet):
    def visible_to(self, user: User) -> Self:
        """A case is seen by its queue's team (members and managers), its assignee and admins."""
        if user.is_admin:
            return self
        team_ids = [team.pk for team in user.visible_teams]
        return self.filter(Q(team_id__in=team_ids) | Q(assignee_id=user.pk))

    def active(self) -> Self:
        return self.filter(status__in=ACTIVE_STATUSES)


class Case(models.Model):
    subject = models.CharField(_("subject"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    company = models.ForeignKey(
        Company, on_delete=models.SET_NULL, null=True, blank=True, related_name="cases", verbose_name=_("company")
    )
    contact = models.ForeignKey(
        Contact, on_delete=models.SET_NULL, null=True, blank=True, related_name="cases", verbose_name=_("contact")
    )
    priority = models.CharField(_("priority"), max_length=10, choices=CasePriority.choices, default=CasePriority.NORMAL)
    status = models.CharField(_("status"), max_length=10, choices=CaseStatus.choices, default=CaseStatus.NEW)
    channel = models.CharField(_("channel"), max_length=10, choices=CaseChannel.choices, default=CaseChannel.PHONE)
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="cases", verbose_name=_("queue"))
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_cases",
        verbose_name=_("assignee"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("opened"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    first_response_due_at = models.DateTimeField(_("first response due"), null=True, blank=True)
    first_responded_at = models.DateTimeField(_("first response"), null=True, blank=True)
    resolution_due_at = models.DateTimeField(_("resolution due"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    # While the clock is stopped (waiting on the customer, resolved): the business seconds
    # the resolution target had left, given back when the case is worked on again.
    resolution_seconds_left = models.PositiveIntegerField(null=True, blank=True, editable=False)
    sla_breached = models.BooleanField(_("SLA breached"), default=False)
    csat_score = models.PositiveSmallIntegerField(
        _("satisfaction"), null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    csat_comment = models.TextField(_("satisfaction comment"), blank=True)
    # Work time for the cost to serve (hours × the assignee's role cost).
    time_spent_minutes = models.PositiveIntegerField(_("time spent (minutes)"), default=0)
    csat_at = models.DateTimeField(_("rated"), null=True, blank=True)
    # Admin-defined fields (crm.custom_fields): key -> JSON value; GIN-indexed for filters.
    custom = models.JSONField(_("custom fields"), default=dict, blank=True, editable=False)
    version = models.PositiveIntegerField(default=1, editable=False)

    objects = CaseQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(csat_score__isnull=True) | Q(csat_score__gte=1, csat_score__lte=5),
                name="case_csat_1_to_5",
            ),
        ]
        indexes = [
            GinIndex(fields=["custom"], opclasses=["jsonb_path_ops"], name="case_custom"),  # crm.custom_fields
            # The queue lists: a team's cases by status, newest first (keyset paging).
            models.Index(fields=["team", "status", "-created_at", "-id"], name="case_team_status_created"),
            models.Index(fields=["team", "-created_at", "-id"], name="case_team_created"),
            models.Index(fields=["assignee", "status", "-created_at", "-id"], name="case_assignee_status"),
            models.Index(fields=["-created_at", "-id"], name="case_created"),
            models.Index(fields=["company", "-created_at"], name="case_company"),
            models.Index(fields=["contact", "-created_at"], name="case_contact"),
        ]
        verbose_name = _("case")
        verbose_name_plural = _("cases")

    def __str__(self) -> str:
        return f"#{self.pk} {self.subject}"

    def get_absolute_url(self) -> str:
        return reverse("service:detail", args=[self.pk])

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def clock_running(self) -> bool:
        return self.status in RUNNING_STATUSES

    def first_response_breached(self, now: datetime | None = None) -> bool:
        if self.first_response_due_at is None:
            return False
        return (self.first_responded_at or now or timezone.now()) > self.first_response_due_at

    def resolution_breached(self, now: datetime | None = None) -> bool:
        if self.resolution_due_at is None or not self.clock_running and self.resolved_at is None:
            return False
        return (self.resolved_at or now or timezone.now()) > self.resolution_due_at


class CaseQueueTotal(models.Model):
    """Active cases per queue, assignee (``NULL``: unassigned) and SLA state: the case list's
    queue tabs add these up instead of counting the cases.

    Maintained only by PostgreSQL triggers on ``service_case`` (``service.totals``), in the
    same transaction as the write, whatever wrote it. Never written by the app;
    ``service.totals.rebuild`` refills it from the cases.
    """

    # The unique key (queue first) serves a team's tabs; the assignee index a user's cases in
    # other queues.
    team = models.ForeignKey(Team, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+")
    assignee = models.ForeignKey(
        User, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, null=True, related_name="+"
    )
    sla_breached = models.BooleanField()
    cases = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["team", "assignee", "sla_breached"], nulls_distinct=False, name="casequeuetotal_key"
            ),
        ]
        indexes = [models.Index(fields=["assignee", "team"], name="casequeuetotal_assignee")]
        verbose_name = _("case queue total")
        verbose_name_plural = _("case queue totals")

    def __str__(self) -> str:
        return f"{self.team_id}/{self.assignee_id}/{self.sla_breached}: {self.cases}"


class CaseActivity(models.Model):
    """The case's conversation: an activity (note, email, call) logged on the case.

    The case owns the link so that ``activities`` (lower in the import order) knows nothing
    of cases; the activity itself sits on the customer's timeline as usual."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="conversation")
    activity = models.OneToOneField(Activity, on_delete=models.CASCADE, related_name="case_link")
    public = models.BooleanField(_("sent to the customer"), default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["case", "created_at", "id"], name="caseactivity_case")]
        verbose_name = _("case activity")
        verbose_name_plural = _("case activities")

    def __str__(self) -> str:
        return f"{self.case_id}: {self.activity_id}"


class SlaTarget(models.TextChoices):
    FIRST_RESPONSE = "first_response", _("First response")
    RESOLUTION = "resolution", _("Resolution")


class SlaTimerKind(models.TextChoices):
    WARNING = "warning", _("Warning")
    BREACH = "breach", _("Breach")


class SlaTimerState(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    CANCELLED = "cancelled", _("Cancelled")


class SlaTimer(models.Model):
    """One warning or breach of one target of one case: unique, so it fires at most once."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="sla_timers")
    target = models.CharField(_("target"), max_length=20, choices=SlaTarget.choices)
    kind = models.CharField(_("kind"), max_length=10, choices=SlaTimerKind.choices)
    # NULL while the case's clock is stopped (waiting on the customer).
    due_at = models.DateTimeField(_("due"), null=True, blank=True)
    state = models.CharField(_("state"), max_length=10, choices=SlaTimerState.choices, default=SlaTimerState.PENDING)
    claimed_at = models.DateTimeField(null=True, blank=True)
    notified_at = models.DateTimeField(_("in-app notification"), null=True, blank=True)
    email_sent_at = models.DateTimeField(_("email sent"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["case", "target", "kind"], name="slatimer_unique_case_target_kind"),
            models.CheckConstraint(condition=~Q(state="sent") | Q(sent_at__isnull=False), name="slatimer_sent_at"),
        ]
        indexes = [
            models.Index(fields=["due_at"], condition=Q(state="pending"), name="slatimer_pending_due"),
            models.Index(fields=["claimed_at"], condition=Q(state="sending"), name="slatimer_sending_claimed"),
        ]
        verbose_name = _("SLA timer")
        verbose_name_plural = _("SLA timers")

    def __str__(self) -> str:
        return f"{self.case_id} {self.target} {self.kind}"

    def dedupe_key(self, user_id: int) -> str:
        return f"sla:{self.pk}:{user_id}"


class SurveyToken(models.Model):
    """A satisfaction survey link: the token itself is only in the email (stored hashed)."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="survey_tokens")
    token_hash = models.CharField(max_length=64, unique=True)
    email = models.EmailField(_("sent to"), blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(_("expires"))
    used_at = models.DateTimeField(_("answered"), null=True, blank=True)

    class Meta:
        verbose_name = _("satisfaction survey")
        verbose_name_plural = _("satisfaction surveys")

    def __str__(self) -> str:
        return f"{self.case_id} survey"

    @staticmethod
    def hash(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()


def _web_form_key() -> str:
    return secrets.token_urlsafe(12)


class CaseWebForm(models.Model):
    """A public "contact support" form that opens cases in a team's queue (no sign-in):
    ``/cases/web/<key>/``. Turning it off (``active``) answers 404 at once."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="case_web_forms", verbose_name=_("queue"))
    key = models.CharField(_("key"), max_length=40, unique=True, default=_web_form_key)
    title = models.CharField(_("title"), max_length=120, default=_("Contact support"))
    priority = models.CharField(
        _("priority of new cases"), max_length=10, choices=CasePriority.choices, default=CasePriority.NORMAL
    )
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("case web form")
        verbose_name_plural = _("case web forms")

    def __str__(self) -> str:
        return f"{self.team}: {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("service:web-form", args=[self.key])
