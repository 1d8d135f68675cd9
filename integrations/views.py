"""Pages for personal API tokens (linked from Preferences)."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crm.params import MAX_ID
from integrations.forms import ApiTokenForm
from integrations.selectors import api_token_for_user, api_tokens_for_user
from integrations.services import api_token_create, api_token_revoke


def _page(request: HttpRequest, form: ApiTokenForm, *, secret: str = "", status: int = 200) -> HttpResponse:
    context = {"form": form, "tokens": list(api_tokens_for_user(request.user)), "secret": secret}
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
