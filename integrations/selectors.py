from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from crm.models import User
from integrations.models import ApiToken, BusinessEvent, CapturedEmail, EmailCaptureAddress


def api_tokens_for_user(user: User) -> QuerySet[ApiToken]:
    """A person's own tokens (admins manage everyone's in Django admin)."""
    return ApiToken.objects.filter(user=user).order_by("-created_at", "-id")


def api_token_for_user(user: User, pk: int) -> ApiToken:
    """The token if it is ``user``'s own (admins: anyone's); 404 otherwise."""
    qs = ApiToken.objects.select_related("user") if user.is_admin else api_tokens_for_user(user)
    token = qs.filter(pk=pk).first()
    if token is None:
        raise Http404
    return token


def unmatched_events_for_user(user: User) -> QuerySet[BusinessEvent]:
    """Events waiting for a customer that ``user`` may see: those sent with tokens of people
    whose records they read (admins: all), newest first."""
    qs = BusinessEvent.objects.filter(company__isnull=True, contact__isnull=True).select_related("type", "received_by")
    if not user.is_admin:
        qs = qs.filter(received_by_id__in=user.visible_owner_ids)
    return qs.order_by("-received_at", "-id")


def unmatched_event_for_user(user: User, pk: int) -> BusinessEvent:
    event = unmatched_events_for_user(user).filter(pk=pk).first()
    if event is None:
        raise Http404
    return event


def capture_address_for(user: User) -> EmailCaptureAddress | None:
    """The user's email capture address, if they created one."""
    return EmailCaptureAddress.objects.filter(user=user).first()


def unmatched_emails_for_user(user: User) -> QuerySet[CapturedEmail]:
    """Captured emails that matched no contact: one's own (admins: everyone's), newest first.
    Unlike business events, a teammate does not see them: they are someone's mailbox."""
    qs = CapturedEmail.objects.unmatched().select_related("user")
    if not user.is_admin:
        qs = qs.filter(user=user)
    return qs.order_by("-received_at", "-id")


def unmatched_email_for_user(user: User, pk: int) -> CapturedEmail:
    email = unmatched_emails_for_user(user).filter(pk=pk).first()
    if email is None:
        raise Http404
    return email
