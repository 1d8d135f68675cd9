from __future__ import annotations

from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
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


def unmatched_events_page(user: User, *, limit: int = 100) -> list[BusinessEvent]:
    """The newest unmatched events ``user`` may act on, each with ``same_ref``: how many
    others of them name the same customer (one query)."""
    visible = unmatched_events_for_user(user)
    same = (
        visible.filter(customer_ref=OuterRef("customer_ref"))
        .exclude(pk=OuterRef("pk"))
        .order_by()
        .values("customer_ref")
        .annotate(n=Count("*"))
        .values("n")
    )
    return list(visible.annotate(same_ref=Coalesce(Subquery(same[:1]), 0))[:limit])


def unmatched_same_ref_ids(user: User, event: BusinessEvent) -> list[int]:
    """The other unmatched events ``user`` may act on that name the same customer as ``event``."""
    return list(
        unmatched_events_for_user(user)
        .filter(customer_ref=event.customer_ref)
        .exclude(pk=event.pk)
        .values_list("pk", flat=True)
    )


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
