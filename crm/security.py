"""Sign-in security: the security log, session ending, two-factor devices, request throttles.

Every security-relevant action (README, "Security") is written by ``security_event_record``:
sign-ins, lockouts, two-factor changes, password changes and resets, role and team changes,
exports, merges and bulk changes. The table is append-only; only ``security_events_purge``
(the nightly retention sweep) deletes from it.
"""

from __future__ import annotations

import hashlib
import io
import ipaddress
from datetime import timedelta
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.core.cache import cache
from django.db import connection, transaction
from django.http import HttpRequest
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from simple_history.models import HistoricalRecords

from crm.models import SecurityEvent, SecurityEventKind, User

RECOVERY_CODE_COUNT = 10

# --- Where a request comes from -----------------------------------------------------------


def client_ip(request: HttpRequest) -> str | None:
    """The client's address: REMOTE_ADDR, or behind ``TRUSTED_PROXY_COUNT`` proxies the
    address the outermost trusted proxy saw (X-Forwarded-For read from the right, so a
    client cannot put a forged address first). Also django-axes' ``AXES_CLIENT_IP_CALLABLE``.
    Anything that is not an IP address is ignored."""
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= proxies and (address := _ip_or_none(forwarded[-proxies])):
            return address
    return _ip_or_none(request.META.get("REMOTE_ADDR", ""))


def _ip_or_none(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def current_request() -> HttpRequest | None:
    """The request being served, as simple-history's middleware keeps it (services have none)."""
    return getattr(HistoricalRecords.context, "request", None)


# --- The security log ---------------------------------------------------------------------


def security_event_record(
    *,
    kind: str,
    user: User | None = None,
    username: str = "",
    actor: User | None = None,
    request: HttpRequest | None = None,
    detail: dict[str, Any] | None = None,
) -> SecurityEvent:
    """Append one row to the security log.

    ``user`` is whom the event concerns; ``actor`` who did it (defaults to the signed-in user of
    ``request``, or of the request being served, when that is someone else). IP address and user
    agent come from ``request`` (or the request being served)."""
    request = request or current_request()
    if actor is None and request is not None:
        request_user = getattr(request, "user", None)
        if request_user is not None and request_user.is_authenticated:
            actor = request_user
    if user is None and actor is not None and kind in _ACTOR_IS_USER:
        user = actor
    if user is not None and actor is not None and actor.pk == user.pk:
        actor = None
    ip = client_ip(request) if request is not None else None
    agent = request.META.get("HTTP_USER_AGENT", "") if request is not None else ""
    return SecurityEvent.objects.create(
        kind=kind,
        user=user,
        username=(username or (user.get_username() if user is not None else ""))[:150],
        actor=actor,
        ip_address=ip,
        user_agent=agent.replace("\x00", "")[:300],
        detail=detail or {},
    )


# Events whose subject is whoever did them (an export concerns the exporter).
_ACTOR_IS_USER = {SecurityEventKind.EXPORT, SecurityEventKind.MERGE, SecurityEventKind.BULK_CHANGE}


def security_events_purge(*, now: Any = None) -> int:
    """Delete rows older than ``SECURITY_LOG_RETENTION_DAYS``: the log's only delete path."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.SECURITY_LOG_RETENTION_DAYS)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL crm.security_log_purge = 'on'")
        cursor.execute(f"DELETE FROM {SecurityEvent._meta.db_table} WHERE at < %s", [cutoff])  # noqa: S608  (table name from model metadata)
        return cursor.rowcount


# --- Sessions -----------------------------------------------------------------------------


def _session_store_class() -> type[SessionBase]:
    return import_module(settings.SESSION_ENGINE).SessionStore


def user_sessions_end(*, user: User, keep_session_key: str | None = None) -> int:
    """End every session of ``user`` except ``keep_session_key``; returns how many ended.

    Works with the ``db`` and ``cached_db`` engines: the sessions are found in the database
    table and each is deleted through the engine's store, which also drops its cache entry.
    A session row holds its user only inside its signed data, so every unexpired row is
    decoded: a few thousand a second, fine for an action people take rarely."""
    store_class = _session_store_class()
    model = store_class.get_model_class()
    user_id = str(user.pk)
    ended = 0
    rows = model.objects.filter(expire_date__gt=timezone.now()).values_list("session_key", "session_data")
    for session_key, session_data in rows.iterator(chunk_size=2000):
        if session_key == keep_session_key:
            continue
        data = store_class().decode(session_data)
        if str(data.get("_auth_user_id")) == user_id:
            store_class(session_key=session_key).delete()
            ended += 1
    return ended


def user_sign_out_everywhere(*, user: User, request: HttpRequest) -> int:
    """End all of ``user``'s sessions, the current one included (the caller signs it out)."""
    ended = user_sessions_end(user=user, keep_session_key=request.session.session_key)
    security_event_record(
        kind=SecurityEventKind.SESSIONS_ENDED, user=user, request=request, detail={"other_sessions": ended}
    )
    return ended


# --- Two-factor sign-in -------------------------------------------------------------------


def two_factor_required(user: User) -> bool:
    """Whether ``user`` must sign in with a second factor (per user, or by role)."""
    if user.two_factor_required:
        return True
    return ("admin" if user.is_admin else user.role) in settings.REQUIRE_2FA_FOR


def two_factor_enabled(user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def session_is_verified(request: HttpRequest) -> bool:
    """Whether this session passed the second factor (django-otp's session key)."""
    return bool(request.session.get(DEVICE_ID_SESSION_KEY))


def two_factor_begin(*, user: User) -> TOTPDevice:
    """A new unconfirmed authenticator for ``user`` (any earlier unconfirmed one is dropped)."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)


def pending_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()


@transaction.atomic
def two_factor_confirm(*, user: User, device: TOTPDevice, code: str, request: HttpRequest) -> list[str] | None:
    """Confirm ``device`` with a code from the app; returns the new recovery codes, or ``None``
    when the code is wrong. Other sessions of the user end: they were opened without it."""
    device = TOTPDevice.objects.select_for_update().get(pk=device.pk, user=user)
    if not device.verify_token(_digits(code)):
        return None
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    codes = recovery_codes_create(user=user)
    request.session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    ended = user_sessions_end(user=user, keep_session_key=request.session.session_key)
    security_event_record(
        kind=SecurityEventKind.TWO_FACTOR_ENABLED, user=user, request=request, detail={"other_sessions_ended": ended}
    )
    return codes


def recovery_codes_create(*, user: User) -> list[str]:
    """Replace ``user``'s recovery codes with ``RECOVERY_CODE_COUNT`` new one-time codes."""
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name="Recovery codes", confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


@transaction.atomic
def two_factor_disable(*, user: User, request: HttpRequest) -> None:
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    request.session.pop(DEVICE_ID_SESSION_KEY, None)
    security_event_record(kind=SecurityEventKind.TWO_FACTOR_DISABLED, user=user, request=request)


def _digits(code: str) -> str:
    return "".join(ch for ch in code if ch in "0123456789")


def _recovery_form(code: str) -> str:
    return "".join(ch for ch in code.lower() if ch.isascii() and ch.isalnum())


def two_factor_verify(*, user: User, code: str, request: HttpRequest) -> TOTPDevice | StaticDevice | None:
    """The device that accepts ``code`` (a 6-digit app code or a recovery code, which is then
    used up), or ``None``. django-otp throttles each device after failures."""
    code = code.strip()[:32]
    with transaction.atomic():
        digits = _digits(code)
        if len(digits) == 6 and len(code.replace(" ", "")) == 6:
            for device in TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True):
                if device.verify_token(digits):
                    return device
            return None
        token = _recovery_form(code)
        for device in StaticDevice.objects.select_for_update().filter(user=user, confirmed=True):
            if token and device.verify_token(token):
                remaining = StaticToken.objects.filter(device=device).count()
                security_event_record(
                    kind=SecurityEventKind.RECOVERY_CODE_USED,
                    user=user,
                    request=request,
                    detail={"remaining": remaining},
                )
                return device
    return None


def totp_qr_svg(device: TOTPDevice) -> str:
    """The device's ``otpauth://`` URL as an inline SVG QR code (no image request, no script)."""
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    svg = buffer.getvalue().decode()
    return svg[svg.index("<svg") :]


def totp_secret(device: TOTPDevice) -> str:
    """The secret as an authenticator app takes it typed in: base32, in groups of four."""
    from base64 import b32encode

    secret = b32encode(device.bin_key).decode()
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


# --- Request throttles (password reset; the hook for API token endpoints) -----------------


# Prefixed to every counter's key; tests give each test its own (the cache outlives a test).
RATE_LIMIT_NAMESPACE = ""


def rate_limit_hit(*, scope: str, key: str, limit: int, window_seconds: int) -> bool:
    """Count one request for (``scope``, ``key``) in the current window; ``True`` when it is
    over ``limit``. Counts live in the shared cache (Redis), so every web process agrees.

    The password reset form calls it per IP address and per email address. An API token
    endpoint (the API does not exist yet) should authenticate with
    ``django.contrib.auth.authenticate(request=request, username=…, password=…)`` — django-axes
    then locks it out exactly like the sign-in form — and call this per IP for anything else it
    accepts (token refresh, token creation)."""
    digest = hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()[:32]
    cache_key = f"rate:{RATE_LIMIT_NAMESPACE}{scope}:{digest}"
    cache.add(cache_key, 0, window_seconds)
    try:
        count = cache.incr(cache_key)
    except ValueError:  # expired between add and incr
        cache.set(cache_key, 1, window_seconds)
        count = 1
    return count > limit
