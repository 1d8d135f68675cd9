from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from crm.models import User
from integrations.models import ApiToken


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
