"""``Authorization: Bearer <token>``: the request acts as the token's user.

A missing header leaves the request anonymous (the permission then answers 401); a header
with an unknown, revoked or expired token is 401 with a body saying which. Failed attempts
are counted per client IP; past ``API_AUTH_FAILURES_PER_MINUTE`` every further attempt from
that IP is 429 with ``Retry-After`` before any token is looked up.
"""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from crm.backends import RequestUserBackend
from crm.security import client_ip
from integrations.models import ApiToken
from integrations.services import api_token_touch, token_hash

FAILURE_WINDOW_SECONDS = 60


class TokenInvalid(exceptions.AuthenticationFailed):
    default_code = "token_invalid"


def _failure_key(request: Request) -> str:
    return f"api-auth-fail:{client_ip(request._request) or 'unknown'}"


def _check_failures(request: Request) -> None:
    if (cache.get(_failure_key(request)) or 0) >= settings.API_AUTH_FAILURES_PER_MINUTE:
        raise exceptions.Throttled(
            wait=FAILURE_WINDOW_SECONDS, detail=_("Too many failed authentications from this address.")
        )


def _count_failure(request: Request) -> None:
    key = _failure_key(request)
    cache.add(key, 0, FAILURE_WINDOW_SECONDS)
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, FAILURE_WINDOW_SECONDS)


class BearerTokenAuthentication(BaseAuthentication):
    keyword = b"bearer"

    def authenticate(self, request: Request) -> tuple | None:
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword:
            return None
        _check_failures(request)
        if len(header) != 2:
            _count_failure(request)
            raise TokenInvalid(_("Send the token as: Authorization: Bearer <token>."))
        try:
            raw = header[1].decode("ascii")
        except UnicodeDecodeError:
            _count_failure(request)
            raise TokenInvalid(_("The token is not valid.")) from None
        token = ApiToken.objects.filter(secret_hash=token_hash(raw)).first()
        if token is None:
            _count_failure(request)
            raise TokenInvalid(_("The token is not valid."))
        now = timezone.now()
        if token.revoked_at is not None:
            _count_failure(request)
            raise exceptions.AuthenticationFailed(_("The token was revoked."), code="token_revoked")
        if token.expires_at is not None and token.expires_at <= now:
            _count_failure(request)
            raise exceptions.AuthenticationFailed(_("The token has expired."), code="token_expired")
        # The user with the owner ids their access is decided by, in one query (as for pages);
        # None when the user is inactive.
        user = RequestUserBackend().get_user(token.user_id)
        if user is None:
            _count_failure(request)
            raise exceptions.AuthenticationFailed(_("The token's user is inactive."), code="user_inactive")
        api_token_touch(token=token, now=now)
        return user, token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'
