"""Writes on API tokens. Creation and revocation are written to the security log."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from crm.models import SecurityEventKind, User
from crm.security import security_event_record
from integrations.models import ApiToken, TokenScope

TOKEN_PREFIX = "crm_"  # noqa: S105 - a public marker, not a secret
# last_used_at is written at most this often per token (not on every request).
LAST_USED_RESOLUTION = timedelta(minutes=1)


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8", "replace")).hexdigest()


@dataclass(frozen=True)
class CreatedToken:
    token: ApiToken
    secret: str  # shown once; never stored


@transaction.atomic
def api_token_create(
    *, user: User, name: str, scope: str = TokenScope.READ, expires_at: datetime | None = None
) -> CreatedToken:
    """A new token for ``user``; the returned secret is the only time it is readable."""
    public = secrets.token_hex(4)
    raw = f"{TOKEN_PREFIX}{public}_{secrets.token_urlsafe(32)}"
    token = ApiToken.objects.create(
        user=user,
        name=name.strip()[:100],
        scope=TokenScope(scope),
        prefix=f"{TOKEN_PREFIX}{public}",
        secret_hash=token_hash(raw),
        expires_at=expires_at,
    )
    security_event_record(
        kind=SecurityEventKind.API_TOKEN_CREATED,
        user=user,
        detail={"token_id": token.pk, "name": token.name, "scope": token.scope, "prefix": token.prefix},
    )
    return CreatedToken(token=token, secret=raw)


@transaction.atomic
def api_token_revoke(*, token: ApiToken, actor: User | None) -> ApiToken:
    """Revoke ``token`` (idempotent); the next request with it gets 401."""
    token = ApiToken.objects.select_for_update().get(pk=token.pk)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        security_event_record(
            kind=SecurityEventKind.API_TOKEN_REVOKED,
            user=token.user,
            actor=actor,
            detail={"token_id": token.pk, "name": token.name, "prefix": token.prefix},
        )
    return token


def api_token_touch(*, token: ApiToken, now: datetime | None = None) -> None:
    """Record use, at most once per ``LAST_USED_RESOLUTION`` (the UPDATE re-checks, so two
    concurrent requests write once)."""
    now = now or timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_RESOLUTION:
        return
    stale_before = now - LAST_USED_RESOLUTION
    ApiToken.objects.filter(Q(last_used_at__isnull=True) | Q(last_used_at__lt=stale_before), pk=token.pk).update(
        last_used_at=now
    )
    token.last_used_at = now
