"""Security-log receivers: sign-ins, lockouts, and admin changes of roles and team membership."""

from __future__ import annotations

from typing import Any

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import m2m_changed, post_save, pre_save
from django.dispatch import receiver

from crm.middleware import session_touch
from crm.models import SecurityEventKind, Team, User
from crm.security import current_request, security_event_record

# What "role" means for access: the role itself and the two flags that make someone an admin.
ROLE_FIELDS = ("role", "is_staff", "is_superuser", "is_active")


@receiver(user_logged_in, dispatch_uid="crm-security-logged-in")
def _logged_in(sender: Any, request, user: User, **kwargs: Any) -> None:
    if request is None:
        return
    if hasattr(request, "session"):
        session_touch(request.session)
    factor = getattr(request, "_crm_sign_in_factor", None)
    security_event_record(
        kind=SecurityEventKind.LOGIN_SUCCEEDED,
        user=user,
        request=request,
        detail={"second_factor": factor} if factor else {},
    )


@receiver(user_logged_out, dispatch_uid="crm-security-logged-out")
def _logged_out(sender: Any, request, user: User | None, **kwargs: Any) -> None:
    if user is not None and request is not None:
        security_event_record(kind=SecurityEventKind.LOGGED_OUT, user=user, request=request)


@receiver(user_login_failed, dispatch_uid="crm-security-login-failed")
def _login_failed(sender: Any, credentials: dict, request=None, **kwargs: Any) -> None:
    username = str(credentials.get("username") or "")[:150].replace("\x00", "")
    user = User._default_manager.filter(username=username).first() if username else None
    detail = {"step": credentials["step"]} if credentials.get("step") else {}
    if request is not None and getattr(request, "axes_locked_out", False):
        detail["while_locked_out"] = True
    security_event_record(
        kind=SecurityEventKind.LOGIN_FAILED, user=user, username=username, request=request, detail=detail
    )


@receiver(user_locked_out, dispatch_uid="crm-security-locked-out")
def _locked_out(sender: Any, request, username: str | None, ip_address: str | None, **kwargs: Any) -> None:
    name = str(username or "")[:150].replace("\x00", "")
    user = User._default_manager.filter(username=name).first() if name else None
    security_event_record(
        kind=SecurityEventKind.LOCKED_OUT, user=user, username=name, request=request, detail={"ip": ip_address}
    )


@receiver(pre_save, sender=User, dispatch_uid="crm-security-role-before")
def _role_before(sender: type[User], instance: User, update_fields=None, **kwargs: Any) -> None:
    """Remember the stored role flags and password, so a change can be logged once the save
    succeeded. Saves that name other fields only (last_login at every sign-in) cost nothing."""
    watched = {*ROLE_FIELDS, "password"}
    if instance.pk is None or (update_fields is not None and not set(update_fields) & watched):
        return
    instance._crm_role_before = User._default_manager.filter(pk=instance.pk).values(*watched).first()


@receiver(post_save, sender=User, dispatch_uid="crm-security-role-after")
def _role_after(sender: type[User], instance: User, created: bool, **kwargs: Any) -> None:
    before = getattr(instance, "_crm_role_before", None)
    instance._crm_role_before = None
    if created or not before:
        return
    after = {name: getattr(instance, name) for name in ROLE_FIELDS}
    changes = {name: [before[name], after[name]] for name in ROLE_FIELDS if before[name] != after[name]}
    if changes:
        security_event_record(kind=SecurityEventKind.ROLE_CHANGED, user=instance, detail=changes)
    # A password set by someone else (an admin in Django admin). The user's own change and a
    # reset are logged by their views (crm.auth_views), which know which one it was.
    if before["password"] != instance.password:
        request = current_request()
        actor = getattr(request, "user", None) if request is not None else None
        if actor is not None and actor.is_authenticated and actor.pk != instance.pk:
            security_event_record(
                kind=SecurityEventKind.PASSWORD_CHANGED, user=instance, detail={"set_by": actor.get_username()}
            )


def team_event_record(*, team_id: int, user_ids: list[int], relation: str, action: str) -> None:
    """One security-log row per user added to or removed from a team (as member or manager)."""
    team = Team.objects.filter(pk=team_id).values_list("name", flat=True).first() or ""
    for user in User._default_manager.filter(pk__in=user_ids):
        security_event_record(
            kind=SecurityEventKind.TEAM_CHANGED,
            user=user,
            detail={"team": team, "team_id": team_id, "as": relation, "change": action},
        )


def _m2m_receiver(relation: str):
    def handler(sender: Any, instance: Any, action: str, reverse: bool, pk_set, **kwargs: Any) -> None:
        if action == "pre_clear":
            # pk_set is empty on clear: remember who is about to go.
            instance._crm_cleared = list(
                sender.objects.filter(
                    **({"user_id": instance.pk} if reverse else {"team_id": instance.pk})
                ).values_list("team_id" if reverse else "user_id", flat=True)
            )
            return
        if action not in ("post_add", "post_remove", "post_clear"):
            return
        ids = list(pk_set or []) if action != "post_clear" else getattr(instance, "_crm_cleared", [])
        change = "added" if action == "post_add" else "removed"
        if reverse:  # user.teams.add(team…)
            for team_id in ids:
                team_event_record(team_id=team_id, user_ids=[instance.pk], relation=relation, action=change)
        elif ids:
            team_event_record(team_id=instance.pk, user_ids=ids, relation=relation, action=change)

    return handler


_members_changed = _m2m_receiver("member")
_managers_changed = _m2m_receiver("manager")
m2m_changed.connect(_members_changed, sender=Team.members.through, dispatch_uid="crm-security-members")
m2m_changed.connect(_managers_changed, sender=Team.managers.through, dispatch_uid="crm-security-managers")
