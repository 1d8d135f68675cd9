"""Users, teams and the access rules every owned record shares.

Access (ARCHITECTURE.md, "Access"): reps see and edit their own records and read their
team's; managers see and edit everything of the teams they manage; admins see everything.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Self

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.l10n import person_name

if TYPE_CHECKING:
    from collections.abc import Iterable


class Role(models.TextChoices):
    REP = "rep", _("Sales rep")
    MANAGER = "manager", _("Manager")
    ADMIN = "admin", _("Admin")


class RoleCost(models.Model):
    """What an hour of a role's time costs, in BASE_CURRENCY (admin-set): the cost to serve of
    activities and cases is their time spent × the hourly cost of the person's role."""

    role = models.CharField(_("role"), max_length=16, choices=Role.choices, unique=True)
    hourly_cost = models.DecimalField(_("hourly cost"), max_digits=10, decimal_places=2)

    class Meta:
        ordering = ["role"]
        constraints = [models.CheckConstraint(condition=models.Q(hourly_cost__gte=0), name="rolecost_not_negative")]
        verbose_name = _("hourly cost of a role")
        verbose_name_plural = _("hourly costs of roles")

    def __str__(self) -> str:
        return f"{self.get_role_display()}: {self.hourly_cost}"


class User(AbstractUser):
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.REP)
    email_reminders = models.BooleanField(
        _("email me reminders"), default=True, help_text=_("Reminders also arrive by email, not only in the app.")
    )
    daily_digest = models.BooleanField(_("daily digest email"), default=False)
    language = models.CharField(
        _("language"),
        max_length=16,
        blank=True,
        choices=[(code, name) for code, name in settings.LANGUAGES],
        help_text=_("Empty: the language your browser asks for."),
    )
    time_zone = models.CharField(
        _("time zone"), max_length=64, blank=True, help_text=_("Empty: the server's time zone.")
    )
    two_factor_required = models.BooleanField(
        _("require two-factor sign-in"),
        default=False,
        help_text=_("Also required for every role listed in the REQUIRE_2FA_FOR setting."),
    )

    class Meta:
        ordering = ["first_name", "last_name", "username"]
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    def get_full_name(self) -> str:
        """``Alice Novak``; a Chinese name family name first without a space: ``王伟``."""
        return person_name(self.first_name, self.last_name)

    @property
    def is_admin(self) -> bool:
        return self.is_superuser or self.role == Role.ADMIN

    @property
    def is_manager(self) -> bool:
        return self.role == Role.MANAGER

    @cached_property
    def _access_owner_ids(self) -> tuple[frozenset[int], frozenset[int]]:
        """(readable, editable) owner ids, both from one query, once per user object (that
        is, once per request: ``request.user`` is loaded per request)."""
        # Members of every team this user belongs to or manages, each flagged when the team
        # is one this user manages.
        managed = Team.managers.through.objects.filter(team_id=models.OuterRef("team_id"), user_id=self.pk)
        rows = (
            Team.members.through.objects.filter(models.Q(team__members=self) | models.Q(team__managers=self))
            .annotate(managed=models.Exists(managed))
            .values_list("user_id", "managed")
        )
        visible, editable = {self.pk}, {self.pk}
        for user_id, is_managed in rows:
            visible.add(user_id)
            if is_managed and self.is_manager:
                editable.add(user_id)
        return frozenset(visible), frozenset(editable)

    @property
    def visible_owner_ids(self) -> frozenset[int]:
        """Ids of the users whose records this user may read (admins: see ``is_admin``)."""
        return self._access_owner_ids[0]

    @property
    def editable_owner_ids(self) -> frozenset[int]:
        """Ids of the users whose records this user may change (admins: see ``is_admin``)."""
        if not self.is_manager:
            return frozenset({self.pk})
        return self._access_owner_ids[1]

    def preload_request_data(
        self,
        *,
        visible_ids: list[int],
        managed_ids: list[int],
        unread_notifications: int,
        people: list[dict] | None = None,
        teams: list[dict] | None = None,
    ) -> None:
        """Fill the per-request caches below from values loaded with the user row
        (``crm.backends.RequestUserBackend``), so they cost no query of their own.
        ``people`` / ``teams``: rows of ``users_visible_to`` / ``teams_visible_to`` (id and names;
        a team's also ``managed``: whether this user manages it)."""
        editable = {self.pk, *managed_ids} if self.is_manager else {self.pk}
        self.__dict__["_access_owner_ids"] = (frozenset({self.pk, *visible_ids}), frozenset(editable))
        self.__dict__["unread_notification_count"] = unread_notifications
        self._preloaded_people, self._preloaded_teams = people, teams

    @cached_property
    def unread_notification_count(self) -> int:
        return Notification.objects.filter(user=self, read_at__isnull=True).count()

    @cached_property
    def visible_users(self) -> list[User]:
        """``users_visible_to(self)``, evaluated once per user object: the owner choices and
        "Assign to" menus of one page share it. Preloaded: the names only (other fields load
        on access)."""
        rows = getattr(self, "_preloaded_people", None)
        if rows is None:
            return list(users_visible_to(self))
        db = self._state.db
        return [User.from_db(db, PERSON_NAME_FIELDS, [row[f] for f in PERSON_NAME_FIELDS]) for row in rows]

    @cached_property
    def visible_teams(self) -> list[Team]:
        """``teams_visible_to(self)``, evaluated once per user object."""
        rows = getattr(self, "_preloaded_teams", None)
        if rows is None:
            return list(teams_visible_to(self))
        return [Team.from_db(self._state.db, ["id", "name"], [row["id"], row["name"]]) for row in rows]

    @cached_property
    def managed_team_ids(self) -> frozenset[int]:
        """Ids of the teams this user manages, once per user object (preloaded with the row)."""
        rows = getattr(self, "_preloaded_teams", None)
        if rows is None:
            return frozenset(Team.managers.through.objects.filter(user_id=self.pk).values_list("team_id", flat=True))
        return frozenset(row["id"] for row in rows if row["managed"])

    def can_read_owner(self, owner_id: int | None) -> bool:
        return self.is_admin or owner_id in self.visible_owner_ids

    def can_edit_owner(self, owner_id: int | None) -> bool:
        return self.is_admin or owner_id in self.editable_owner_ids


class Team(models.Model):
    name = models.CharField(_("name"), max_length=120, unique=True)
    members = models.ManyToManyField(User, related_name="teams", blank=True, verbose_name=_("members"))
    managers = models.ManyToManyField(User, related_name="managed_teams", blank=True, verbose_name=_("managers"))
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = _("team")
        verbose_name_plural = _("teams")

    def __str__(self) -> str:
        return self.name


# What a person's name in a menu needs (``User.__str__``), preloaded by ``crm.backends``.
PERSON_NAME_FIELDS = ["id", "username", "first_name", "last_name"]


def users_visible_to(user: User) -> models.QuerySet[User]:
    """Users whose names may appear in ``user``'s choice fields and filters."""
    qs = User.objects.filter(is_active=True)
    if user.is_admin:
        return qs
    return qs.filter(pk__in=user.visible_owner_ids)


def teams_visible_to(user: User) -> models.QuerySet[Team]:
    if user.is_admin:
        return Team.objects.all()
    return Team.objects.filter(models.Q(members=user) | models.Q(managers=user)).distinct()


class OwnedQuerySet(models.QuerySet):
    """Filters shared by every model with an ``owner``: the one place access is decided."""

    def visible_to(self, user: User) -> Self:
        if user.is_admin:
            return self
        return self.filter(owner_id__in=user.visible_owner_ids)

    def editable_by(self, user: User) -> Self:
        if user.is_admin:
            return self
        return self.filter(owner_id__in=user.editable_owner_ids)

    def owned_by_team(self, team: Team) -> Self:
        return self.filter(owner__teams=team)

    def owned_by(self, users: Iterable[User]) -> Self:
        return self.filter(owner__in=users)


class Notification(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notifications")
    text = models.CharField(_("text"), max_length=300)
    link = models.CharField(_("link"), max_length=500, blank=True)
    # Set by producers that must never notify twice (e.g. "reminder:<id>").
    dedupe_key = models.CharField(max_length=120, null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["dedupe_key"], name="notification_unique_dedupe_key"),
        ]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="notification_user_recent"),
            models.Index(fields=["user"], condition=models.Q(read_at__isnull=True), name="notification_user_unread"),
        ]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")

    def __str__(self) -> str:
        return self.text

    def get_absolute_url(self) -> str:
        return reverse("notification-open", args=[self.pk])

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class SecurityEventKind(models.TextChoices):
    LOGIN_SUCCEEDED = "login_succeeded", _("Signed in")
    LOGIN_FAILED = "login_failed", _("Sign-in failed")
    LOCKED_OUT = "locked_out", _("Locked out")
    LOGGED_OUT = "logged_out", _("Signed out")
    SESSIONS_ENDED = "sessions_ended", _("Signed out everywhere")
    SESSION_EXPIRED = "session_expired", _("Session expired")
    TWO_FACTOR_ENABLED = "two_factor_enabled", _("Two-factor sign-in turned on")
    TWO_FACTOR_DISABLED = "two_factor_disabled", _("Two-factor sign-in turned off")
    RECOVERY_CODE_USED = "recovery_code_used", _("Recovery code used")
    RECOVERY_CODES_REPLACED = "recovery_codes_replaced", _("Recovery codes replaced")
    PASSWORD_CHANGED = "password_changed", _("Password changed")
    PASSWORD_RESET_REQUESTED = "password_reset_requested", _("Password reset requested")
    PASSWORD_RESET = "password_reset", _("Password reset")
    ROLE_CHANGED = "role_changed", _("Role changed")
    TEAM_CHANGED = "team_changed", _("Team membership changed")
    EXPORT = "export", _("Export")
    MERGE = "merge", _("Merge")
    BULK_CHANGE = "bulk_change", _("Bulk change")
    # For the API (not built yet): its token endpoints log these.
    API_TOKEN_CREATED = "api_token_created", _("API token created")
    API_TOKEN_REVOKED = "api_token_revoked", _("API token revoked")


class SecurityEventQuerySet(models.QuerySet):
    """Append-only: rows are only added (``crm.security.security_event_record``) and removed by
    the retention sweep (``security_events_purge``); the table's trigger refuses anything else."""

    def update(self, **kwargs):
        raise TypeError("security events are append-only")

    def delete(self):
        raise TypeError("security events are append-only; crm.security.security_events_purge removes old ones")


class SecurityEvent(models.Model):
    """One security-relevant action: who, what, when, from where (Admin › Security events)."""

    kind = models.CharField(_("kind"), max_length=32, choices=SecurityEventKind.choices)
    at = models.DateTimeField(_("at"), default=timezone.now)
    # The user it concerns; no database constraint, so a user's rows outlive the user (and
    # deleting a user never has to update this append-only table). ``username`` is the name
    # typed or held then (a failed sign-in may name nobody).
    user = models.ForeignKey(
        User,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("user"),
    )
    username = models.CharField(_("username"), max_length=150, blank=True)
    # Who did it, when not the user themselves (an admin changing a role).
    actor = models.ForeignKey(
        User,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=300, blank=True)
    detail = models.JSONField(_("detail"), default=dict, blank=True)

    objects = SecurityEventQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["-at"], name="security_event_recent"),
            models.Index(fields=["kind", "-at"], name="security_event_kind_recent"),
            models.Index(fields=["user", "-at"], name="security_event_user_recent"),
        ]
        verbose_name = _("security event")
        verbose_name_plural = _("security events")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.username or '-'} · {self.at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise TypeError("security events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("security events are append-only")


class Outbox(models.Model):
    """A Celery task to send once the transaction that wrote this row has committed.

    Services write a row in their own transaction (``crm.services.outbox_enqueue``), so the
    follow-up work exists exactly when the change does. A relay (an immediate nudge after the
    commit, and beat's sweep every few seconds) sends pending rows to the broker and marks
    them sent; a broker that is down leaves them pending with ``attempts`` and ``last_error``
    for the next sweep. Sending is at-least-once (a relay that dies between the send and its
    commit sends again), so every task routed through here is idempotent.

    A relay claims rows with ``SELECT … FOR UPDATE SKIP LOCKED`` and holds them only for its
    own short transaction: a relay that dies releases them with its connection, so no lease
    column is needed — two relays never send the same row at once.
    """

    task = models.CharField(_("task"), max_length=200)
    args = models.JSONField(_("arguments"), default=list, blank=True)
    kwargs = models.JSONField(_("keyword arguments"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    # Not sent before this time: now when written, later after a failed send (backoff).
    available_at = models.DateTimeField(_("available"), default=timezone.now)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            # The relay's sweep: pending rows that are due, oldest first (stays small: sent rows leave it).
            models.Index(fields=["available_at", "id"], condition=models.Q(sent_at__isnull=True), name="outbox_due"),
            # The purge of sent rows past their keeping time.
            models.Index(fields=["sent_at"], condition=models.Q(sent_at__isnull=False), name="outbox_sent"),
        ]
        verbose_name = _("outbox message")
        verbose_name_plural = _("outbox")

    def __str__(self) -> str:
        return f"{self.task}{tuple(self.args)}"


class Heartbeat(models.Model):
    """When a periodic proof of life last ran: ``beat`` is written by the heartbeat task that
    beat schedules every minute and a worker runs, and read by /healthz."""

    name = models.CharField(primary_key=True, max_length=40)
    at = models.DateTimeField()

    class Meta:
        verbose_name = _("heartbeat")
        verbose_name_plural = _("heartbeats")

    def __str__(self) -> str:
        return f"{self.name}: {self.at:%Y-%m-%d %H:%M:%S}"


# --- Custom fields and saved list views -------------------------------------------------------


class CustomFieldModel(models.TextChoices):
    """The records that take custom fields: ``app_label.model`` of each."""

    COMPANY = "contacts.company", _("Company")
    CONTACT = "contacts.contact", _("Contact")
    DEAL = "deals.deal", _("Deal")
    CASE = "service.case", _("Case")


class CustomFieldType(models.TextChoices):
    TEXT = "text", _("Text")
    LONG_TEXT = "long_text", _("Long text")
    NUMBER = "number", _("Number")
    MONEY = "money", _("Money")
    DATE = "date", _("Date")
    BOOLEAN = "boolean", _("Yes/no")
    CHOICE = "choice", _("One choice")
    MULTI_CHOICE = "multi_choice", _("Several choices")
    USER = "user", _("User")
    URL = "url", _("URL")


class CustomField(models.Model):
    """An admin-defined field of one model; its values live in that model's ``custom`` JSONB
    column under ``key`` (see ``crm.custom_fields``)."""

    model = models.CharField(_("record"), max_length=40, choices=CustomFieldModel.choices)
    key = models.SlugField(
        _("key"),
        max_length=40,
        help_text=_("The name in the API, imports and exports (letters, digits, underscores). Cannot change."),
    )
    label = models.CharField(_("label"), max_length=80)
    field_type = models.CharField(_("type"), max_length=20, choices=CustomFieldType.choices)
    help_text = models.CharField(_("help text"), max_length=200, blank=True)
    required = models.BooleanField(_("required"), default=False)
    choices = models.JSONField(
        _("choices"),
        default=list,
        blank=True,
        help_text=_("For “one choice” and “several choices”: the options, one per line."),
    )
    position = models.PositiveSmallIntegerField(_("order"), default=0)
    is_active = models.BooleanField(
        _("active"), default=True, help_text=_("Inactive fields are hidden everywhere; their values are kept.")
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    class Meta:
        ordering = ["model", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["model", "key"], name="customfield_model_key"),
            models.CheckConstraint(
                condition=models.Q(key__regex=r"^[a-z][a-z0-9_]*$"), name="customfield_key_identifier"
            ),
        ]
        verbose_name = _("custom field")
        verbose_name_plural = _("custom fields")

    def __str__(self) -> str:
        return f"{self.get_model_display()}: {self.label}"


class SavedViewList(models.TextChoices):
    COMPANIES = "companies", _("Companies")
    CONTACTS = "contacts", _("Contacts")
    DEALS = "deals", _("Deals")
    ACTIVITIES = "activities", _("Activities")
    CASES = "cases", _("Cases")


class SavedView(models.Model):
    """A named list page: its filters and sort (the query string) and its columns. Private to
    its owner, or shared with one of the owner's teams."""

    owner = models.ForeignKey(User, on_delete=models.CASCADE, related_name="saved_views", verbose_name=_("owner"))
    list_name = models.CharField(_("list"), max_length=20, choices=SavedViewList.choices)
    name = models.CharField(_("name"), max_length=80)
    query = models.CharField(_("filters and sort"), max_length=2000, blank=True)
    columns = models.JSONField(_("columns"), default=list, blank=True)
    team = models.ForeignKey(
        Team,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="saved_views",
        verbose_name=_("shared with team"),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [
            models.Index(fields=["owner", "list_name"], name="savedview_owner_list"),
            models.Index(fields=["team", "list_name"], name="savedview_team_list"),
        ]
        verbose_name = _("saved view")
        verbose_name_plural = _("saved views")

    def __str__(self) -> str:
        return self.name


class LastListView(models.Model):
    """The saved view a user last opened on each list, reopened when they come back to it."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    list_name = models.CharField(max_length=20, choices=SavedViewList.choices)
    view = models.ForeignKey(SavedView, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "list_name"], name="lastlistview_user_list")]

    def __str__(self) -> str:
        return f"{self.list_name}: {self.view_id}"


class BulkJobState(models.TextChoices):
    PENDING = "pending", _("Waiting for a worker")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    UNDOING = "undoing", _("Undoing")
    UNDONE = "undone", _("Undone")
    FAILED = "failed", _("Failed")


class BulkJob(models.Model):
    """One bulk action on a list (``crm.bulk_actions``): which records, what to do, how far
    it got, and each changed record's previous values, so the last one can be undone."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="bulk_jobs", verbose_name=_("user"))
    kind = models.CharField(_("records"), max_length=40)
    action = models.CharField(_("action"), max_length=40)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    summary = models.CharField(_("summary"), max_length=300, blank=True)
    ids = models.JSONField(_("record ids"), default=list, blank=True)
    state = models.CharField(_("state"), max_length=10, choices=BulkJobState.choices, default=BulkJobState.PENDING)
    total = models.PositiveIntegerField(_("records"), default=0)
    processed = models.PositiveIntegerField(_("processed"), default=0)
    changed = models.PositiveIntegerField(_("changed"), default=0)
    skipped = models.PositiveIntegerField(_("skipped (no permission)"), default=0)
    # {record id: {field: value before}} of the records this job changed: what undo writes back.
    previous = models.JSONField(_("previous values"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    undone_at = models.DateTimeField(_("undone"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("bulk action")
        verbose_name_plural = _("bulk actions")
        indexes = [models.Index(fields=["user", "kind", "-created_at"], name="bulkjob_user_kind_recent")]

    def __str__(self) -> str:
        return self.summary or f"{self.kind} {self.action}"

    @property
    def is_busy(self) -> bool:
        return self.state in {BulkJobState.PENDING, BulkJobState.RUNNING, BulkJobState.UNDOING}

    @property
    def progress(self) -> int:
        return round(100 * self.processed / self.total) if self.total else 100
