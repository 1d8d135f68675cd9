"""Users, teams and the access rules every owned record shares.

Access (ARCHITECTURE.md, "Access"): reps see and edit their own records and read their
team's; managers see and edit everything of the teams they manage; admins see everything.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Self

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from collections.abc import Iterable


class Role(models.TextChoices):
    REP = "rep", _("Sales rep")
    MANAGER = "manager", _("Manager")
    ADMIN = "admin", _("Admin")


class User(AbstractUser):
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.REP)
    email_reminders = models.BooleanField(
        _("email me reminders"), default=True, help_text=_("Reminders also arrive by email, not only in the app.")
    )
    daily_digest = models.BooleanField(_("daily digest email"), default=False)

    class Meta:
        ordering = ["first_name", "last_name", "username"]
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.get_full_name() or self.username

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
        ``people`` / ``teams``: rows of ``users_visible_to`` / ``teams_visible_to`` (id and names)."""
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
