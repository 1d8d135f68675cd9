"""Pages for personal API tokens (linked from Preferences)."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from contacts.services import company_create
from crm.params import MAX_ID
from integrations.email_capture import capture_address_regenerate, captured_email_link
from integrations.events import customer_ref_defaults, event_link
from integrations.forms import ApiTokenForm, CompanyFromEventForm, EventLinkForm
from integrations.selectors import (
    api_token_for_user,
    api_tokens_for_user,
    capture_address_for,
    unmatched_email_for_user,
    unmatched_emails_for_user,
    unmatched_event_for_user,
    unmatched_events_page,
    unmatched_same_ref_ids,
)
from integrations.services import api_token_create, api_token_revoke


def _page(request: HttpRequest, form: ApiTokenForm, *, secret: str = "", status: int = 200) -> HttpResponse:
    context = {
        "form": form,
        "tokens": list(api_tokens_for_user(request.user)),
        "secret": secret,
        "capture": capture_address_for(request.user),
    }
    return render(request, "integrations/token_list.html", context, status=status)


@require_GET
def token_list(request: HttpRequest) -> HttpResponse:
    return _page(request, ApiTokenForm())


@require_http_methods(["GET", "POST"])
def token_create(request: HttpRequest) -> HttpResponse:
    form = ApiTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        expires_on = form.cleaned_data["expires_on"]
        expires_at = dt.datetime.combine(expires_on, dt.time.min, tzinfo=dt.UTC) if expires_on else None
        created = api_token_create(
            user=request.user, name=form.cleaned_data["name"], scope=form.cleaned_data["scope"], expires_at=expires_at
        )
        # Shown on this response only: the secret is not stored and cannot be shown again.
        response = _page(request, ApiTokenForm(), secret=created.secret, status=201)
        response["Cache-Control"] = "no-store"
        return response
    return _page(request, form, status=400 if request.method == "POST" else 200)


@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    token = api_token_for_user(request.user, min(pk, MAX_ID))
    api_token_revoke(token=token, actor=request.user)
    messages.success(request, _("Token “%(name)s” revoked.") % {"name": token.name})
    return redirect("integrations:token-list")


@require_POST
def capture_address_new(request: HttpRequest) -> HttpResponse:
    """Create the user's capture address, or replace it (the old one stops working)."""
    had_one = capture_address_for(request.user) is not None
    capture_address_regenerate(user=request.user)
    if had_one:
        messages.success(request, _("New capture address created; mail to the old one is refused."))
    else:
        messages.success(request, _("Your capture address is ready."))
    return redirect(reverse("integrations:token-list") + "#email-capture")


def _unmatched_page(request: HttpRequest, form: EventLinkForm, *, status: int = 200, **extra) -> HttpResponse:
    context = {
        "events": unmatched_events_page(request.user),
        "emails": list(unmatched_emails_for_user(request.user)[:100]),
        "form": form,
        **extra,
    }
    return render(request, "integrations/unmatched_events.html", context, status=status)


@require_GET
def unmatched_events(request: HttpRequest) -> HttpResponse:
    return _unmatched_page(request, EventLinkForm(user=request.user))


def _linked_message(request: HttpRequest, linked: list, customer: object) -> None:
    n = len(linked)
    messages.success(
        request,
        ngettext(
            "%(n)s event linked to %(customer)s; it is now on the customer's timeline.",
            "%(n)s events linked to %(customer)s; they are now on the customer's timeline.",
            n,
        )
        % {"n": n, "customer": customer},
    )


@require_POST
def unmatched_event_link(request: HttpRequest, pk: int) -> HttpResponse:
    """Link an unmatched event (optionally with the others naming the same customer)."""
    event = unmatched_event_for_user(request.user, min(pk, MAX_ID))
    form = EventLinkForm(request.POST, user=request.user)
    if not form.is_valid():
        return _unmatched_page(request, form, status=400)
    company, contact = form.cleaned_data["company_obj"], form.cleaned_data["contact_obj"]
    also = unmatched_same_ref_ids(request.user, event) if form.cleaned_data["same_ref"] else []
    linked = event_link(event=event, actor=request.user, company=company, contact=contact, also=also)
    _linked_message(request, linked, contact or company)
    return redirect("events:unmatched")


@require_http_methods(["GET", "POST"])
def unmatched_event_create_company(request: HttpRequest, pk: int) -> HttpResponse:
    """A new company from what the sender named (domain, email, reference), owned by the
    user, and the event (optionally with the others naming the same customer) linked to it."""
    event = unmatched_event_for_user(request.user, min(pk, MAX_ID))
    initial = {**customer_ref_defaults(event.customer_ref), "same_ref": True}
    form = CompanyFromEventForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        with transaction.atomic():
            company = company_create(
                actor=request.user,
                owner=request.user,
                name=data["name"],
                domain=data["domain"],
                email=data["email"],
                external_id=data["external_id"],
            )
            also = unmatched_same_ref_ids(request.user, event) if data["same_ref"] else []
            linked = event_link(event=event, actor=request.user, company=company, contact=None, also=also)
        _linked_message(request, linked, company)
        return redirect(company)
    context = {"form": form, "event": event, "same_ref": len(unmatched_same_ref_ids(request.user, event))}
    status = 400 if request.method == "POST" else 200
    return render(request, "integrations/company_from_event.html", context, status=status)


@require_POST
def unmatched_email_link(request: HttpRequest, pk: int) -> HttpResponse:
    email = unmatched_email_for_user(request.user, min(pk, MAX_ID))
    form = EventLinkForm(request.POST, user=request.user)
    if not form.is_valid():
        return _unmatched_page(request, form, status=400, form_email=email)
    captured_email_link(
        email=email,
        actor=request.user,
        company=form.cleaned_data["company_obj"],
        contact=form.cleaned_data["contact_obj"],
    )
    messages.success(request, _("Email logged; it is now on the customer's timeline."))
    return redirect("events:unmatched")
