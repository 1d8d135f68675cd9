"""Writes on users, teams, notifications and heartbeats."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from crm.models import Heartbeat, Notification, Role, Team, User


def user_create(
    *, username: str, password: str, role: str = Role.REP, email: str = "", first_name: str = "", last_name: str = ""
) -> User:
    user = User(
        username=username,
        email=email.lower(),
        first_name=first_name,
        last_name=last_name,
        role=role,
        is_staff=role == Role.ADMIN,
        is_superuser=role == Role.ADMIN,
    )
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    return user


def team_add_member(*, team: Team, user: User, manager: bool = False) -> None:
    if manager:
        team.managers.add(user)
    else:
        team.members.add(user)


def notification_create(*, user: User, text: str, link: str = "", dedupe_key: str | None = None) -> Notification | None:
    """Create an in-app notification; with ``dedupe_key`` a second call is a no-op.

    Returns the new notification, or ``None`` when one with the same key already exists.
    """
    if dedupe_key is None:
        return Notification.objects.create(user=user, text=text[:300], link=link)
    try:
        with transaction.atomic():
            return Notification.objects.create(user=user, text=text[:300], link=link, dedupe_key=dedupe_key)
    except IntegrityError:
        return None


def notification_mark_read(*, notification: Notification) -> Notification:
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
    return notification


def notifications_mark_all_read(*, user: User) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).update(read_at=timezone.now())


def heartbeat_record(*, name: str = "beat") -> Heartbeat:
    """Record that the periodic ``name`` heartbeat ran now (one row per name)."""
    heartbeat, _created = Heartbeat.objects.update_or_create(name=name, defaults={"at": timezone.now()})
    return heartbeat
