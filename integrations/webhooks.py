"""Outbound webhooks: emission, signing, delivery, retries and disabling (README, "Outbound webhooks").

Guarantees:

- **After commit only.** ``webhooks_emit`` writes one ``WebhookDelivery`` per subscribed active
  endpoint in the transaction of the change it reports (the receivers in
  ``integrations.receivers`` run inside the services' transactions), plus an outbox row that
  nudges a worker once it commits. A rolled-back change leaves neither.
- **None lost.** Due times live in PostgreSQL. Beat's sweep (and the nudge) claim due rows with
  ``FOR UPDATE SKIP LOCKED`` and mark them ``sending`` with ``claimed_at``; a worker killed
  mid-send leaves the row ``sending`` and a later sweep claims it again once the lease ran out.
  Two sweeps never claim one row; before each send the worker renews its claim, and a worker
  whose claim was taken over sends nothing.
- **At least once.** A worker killed after the receiver answered but before the outcome was
  stored sends that delivery again: receivers deduplicate by ``id`` (the event) or the
  ``X-CRM-Delivery`` header.
- **Retries** 1, 2, 4 … minutes apart (capped at ``WEBHOOK_MAX_BACKOFF_SECONDS``) for
  ``WEBHOOK_RETRY_HOURS``; then the delivery is abandoned. After
  ``WEBHOOK_DISABLE_AFTER_FAILURES`` failed attempts in a row, over at least
  ``WEBHOOK_DISABLE_AFTER_MINUTES``, the endpoint is turned off and every admin notified.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import secrets
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, Q, Value, When
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.i18n import user_locale
from crm.models import Role, User
from crm.services import notification_create, outbox_enqueue
from integrations.models import PING_KIND, DeliveryState, WebhookDelivery, WebhookEndpoint

logger = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"  # noqa: S105 - a public marker, not a secret
DELIVER_TASK = "integrations.tasks.webhook_deliver"
BATCH_SIZE = 10  # small: each row may take up to WEBHOOK_TIMEOUT_SECONDS
USER_AGENT = "CRM-Webhooks/1"
RESPONSE_EXCERPT_BYTES = 1024
WAITING = (DeliveryState.PENDING, DeliveryState.FAILED)


# --- Signing --------------------------------------------------------------------------------


def secret_generate() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature_for(*, secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=`` + hex HMAC-SHA256 of ``<timestamp>.<body>`` with the endpoint's secret."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def signature_verify(
    *, secret: str, timestamp: str, signature: str, body: bytes, tolerance: int = 300, now: float | None = None
) -> bool:
    """What a receiver checks (the README shows the same code without the CRM)."""
    if not (timestamp.isascii() and timestamp.isdigit()):
        return False
    if abs((now if now is not None else time.time()) - int(timestamp)) > tolerance:
        return False
    return hmac.compare_digest(signature_for(secret=secret, timestamp=timestamp, body=body), signature)


# --- Emission -------------------------------------------------------------------------------


def subscribed_endpoint_ids(kind: str) -> list[int]:
    return list(
        WebhookEndpoint.objects.filter(is_active=True, event_kinds__contains=[kind])
        .order_by("id")
        .values_list("pk", flat=True)
    )


def webhooks_emit(
    *, kind: str, items: Iterable[dict[str, Any]], endpoint_ids: list[int], occurred_at: datetime | None = None
) -> list[WebhookDelivery]:
    """One delivery per (item, endpoint), in the caller's transaction, and a nudge after commit.

    ``items`` are the events' ``data`` objects; each becomes one event (one ``id``) sent to
    every endpoint in ``endpoint_ids``. Callers look the endpoints up first
    (``subscribed_endpoint_ids``) so that nothing is serialised when nobody listens.
    """
    if not endpoint_ids:
        return []
    now = timezone.now()
    at = (occurred_at or now).isoformat()
    rows = []
    for data in items:
        event_id = uuid.uuid4()
        payload = {"id": str(event_id), "kind": kind, "occurred_at": at, "data": data}
        rows += [
            WebhookDelivery(endpoint_id=endpoint_id, event_id=event_id, kind=kind, payload=payload, next_attempt_at=now)
            for endpoint_id in endpoint_ids
        ]
    if not rows:
        return []
    with transaction.atomic():
        created = WebhookDelivery.objects.bulk_create(rows)
        outbox_enqueue(task=DELIVER_TASK, kwargs={"ids": [row.pk for row in created]})
    return created


# --- Endpoints ------------------------------------------------------------------------------


def _blocked_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


class BlockedAddressError(OSError):
    """The URL's host resolves to an address webhooks may not reach (SSRF guard)."""


def _resolve_allowed(host: str, port: int) -> list[tuple[Any, ...]]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    if not settings.WEBHOOKS_ALLOW_PRIVATE:
        for info in infos:
            if _blocked_address(info[4][0]):
                raise BlockedAddressError(
                    _("%(host)s resolves to %(address)s, a private or reserved address.")
                    % {"host": host, "address": info[4][0]}
                )
    return infos


def endpoint_url_check(url: str) -> str:
    """The URL, or ``ValidationError``: http(s) only, no credentials, and (unless
    ``WEBHOOKS_ALLOW_PRIVATE``) a host that resolves only to public addresses."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(_("Enter an http:// or https:// URL."))
    if parts.username or parts.password:
        raise ValidationError(_("Put no user name or password in the URL; deliveries are signed instead."))
    try:
        _resolve_allowed(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    except BlockedAddressError as exc:
        raise ValidationError(str(exc)) from None
    except (OSError, ValueError, UnicodeError):
        raise ValidationError(_("The host name could not be resolved.")) from None
    return url


@transaction.atomic
def webhook_endpoint_create(
    *, url: str, event_kinds: list[str], description: str = "", created_by: User | None = None
) -> WebhookEndpoint:
    endpoint = WebhookEndpoint(
        url=endpoint_url_check(url),
        event_kinds=sorted(set(event_kinds)),
        description=description[:200],
        secret=secret_generate(),
        created_by=created_by,
    )
    endpoint.full_clean()
    endpoint.save()
    return endpoint


@transaction.atomic
def webhook_endpoint_rotate_secret(*, endpoint: WebhookEndpoint) -> str:
    """A new signing secret; deliveries signed from now on use it. Returns it (shown once)."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    endpoint.secret = secret_generate()
    endpoint.save(update_fields=["secret"])
    return endpoint.secret


@transaction.atomic
def webhook_endpoint_enable(*, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """Turn an endpoint on again with a clean failure count (new events are delivered again;
    those abandoned while it was off can be redelivered from the delivery log)."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    endpoint.is_active = True
    endpoint.disabled_at = None
    endpoint.disabled_reason = ""
    endpoint.consecutive_failures = 0
    endpoint.failing_since = None
    endpoint.save()
    return endpoint


def _admins() -> list[User]:
    return list(User.objects.filter(is_active=True).filter(Q(is_superuser=True) | Q(role=Role.ADMIN)))


def _disable(endpoint: WebhookEndpoint, *, now: datetime, reason: str) -> None:
    """Turn ``endpoint`` (locked by the caller) off, abandon what waits for it, tell the admins."""
    endpoint.is_active = False
    endpoint.disabled_at = now
    endpoint.disabled_reason = reason[:2000]
    endpoint.save(update_fields=["is_active", "disabled_at", "disabled_reason"])
    # Rows another worker is sending now are included: its outcome is then ignored.
    WebhookDelivery.objects.filter(endpoint=endpoint, state__in=[*WAITING, DeliveryState.SENDING]).update(
        state=DeliveryState.ABANDONED,
        next_attempt_at=None,
        claimed_at=None,
        last_error=_("The endpoint was turned off."),
    )
    link = reverse("admin:integrations_webhookendpoint_change", args=[endpoint.pk])
    for admin in _admins():
        with user_locale(admin):
            text = _("Webhook %(url)s was turned off after %(count)d failed attempts in a row.") % {
                "url": endpoint.url[:150],
                "count": endpoint.consecutive_failures,
            }
        notification_create(
            user=admin, text=text, link=link, dedupe_key=f"webhook-off:{endpoint.pk}:{int(now.timestamp())}:{admin.pk}"
        )
    logger.warning("webhooks: endpoint %s turned off: %s", endpoint.pk, reason)


# --- HTTP -----------------------------------------------------------------------------------


def _guarded_create_connection(address: tuple[str, int], timeout: Any = None, source_address: Any = None):
    """``socket.create_connection`` that connects only to addresses the SSRF guard allows,
    checking the very address it connects to (a DNS answer that changes between the check and
    the connection cannot slip through)."""
    host, port = address
    error: OSError | None = None
    for family, type_, proto, _canon, sockaddr in _resolve_allowed(host, port):
        sock = socket.socket(family, type_, proto)
        try:
            if timeout is not None:
                sock.settimeout(timeout)
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            sock.close()
            error = exc
    raise error or OSError(f"no address for {host}")


class _GuardedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = _guarded_create_connection


class _GuardedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = _guarded_create_connection


class _GuardedHTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_GuardedHTTPConnection, req)


class _GuardedHTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        extra = {"check_hostname": self._check_hostname} if hasattr(self, "_check_hostname") else {}  # 3.11
        return self.do_open(_GuardedHTTPSConnection, req, context=self._context, **extra)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not an instruction: 3xx is recorded as a failed attempt."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


# No ProxyHandler: an HTTP(S)_PROXY from the environment would bypass the address check.
_opener = urllib.request.OpenerDirector()
for _handler in (
    urllib.request.UnknownHandler(),
    _GuardedHTTPHandler(),
    _GuardedHTTPSHandler(),
    urllib.request.HTTPDefaultErrorHandler(),
    _NoRedirects(),
    urllib.request.HTTPErrorProcessor(),
):
    _opener.add_handler(_handler)


@dataclass(frozen=True)
class AttemptResult:
    ok: bool
    status_code: int | None
    error: str
    duration_ms: int


def _excerpt(raw: bytes) -> str:
    return raw[:RESPONSE_EXCERPT_BYTES].decode("utf-8", "replace").replace("\x00", "")


def http_post(*, url: str, body: bytes, headers: dict[str, str], timeout: float) -> AttemptResult:
    """One POST; never raises for network or HTTP errors (they are the result)."""
    started = time.monotonic()
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - scheme checked
    status: int | None = None
    error = ""
    try:
        with _opener.open(request, timeout=timeout) as response:
            status = response.status
            response.read(RESPONSE_EXCERPT_BYTES)
    except urllib.error.HTTPError as exc:
        status = exc.code
        try:
            error = f"HTTP {exc.code}: {_excerpt(exc.read(RESPONSE_EXCERPT_BYTES))}".strip()
        except OSError:
            error = f"HTTP {exc.code}"
        finally:
            exc.close()
    except urllib.error.URLError as exc:
        reason = exc.reason
        error = str(reason) if isinstance(reason, BlockedAddressError) else f"{type(reason).__name__}: {reason}"
    except (TimeoutError, OSError, http.client.HTTPException, ValueError) as exc:
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    duration = int((time.monotonic() - started) * 1000)
    ok = status is not None and 200 <= status < 300
    return AttemptResult(ok=ok, status_code=status, error="" if ok else error[:2000], duration_ms=duration)


def delivery_request(delivery: WebhookDelivery, *, now: float | None = None) -> tuple[bytes, dict[str, str]]:
    """The body and headers of an attempt, signed with the endpoint's current secret."""
    payload = delivery.payload
    # The documented key order (PostgreSQL's jsonb keeps its own).
    ordered = {key: payload[key] for key in ("id", "kind", "occurred_at", "data") if key in payload}
    body = json.dumps({**ordered, **payload}, separators=(",", ":"), ensure_ascii=False).encode()
    timestamp = str(int(now if now is not None else time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-CRM-Event": delivery.kind,
        "X-CRM-Delivery": str(delivery.pk),
        "X-CRM-Timestamp": timestamp,
        "X-CRM-Signature": signature_for(secret=delivery.endpoint.secret, timestamp=timestamp, body=body),
    }
    return body, headers


# --- Claim, deliver, sweep ------------------------------------------------------------------


def _lease() -> timedelta:
    return timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS)


def backoff(attempts: int) -> timedelta:
    """Wait before the next try after ``attempts`` failed ones: 1, 2, 4 … minutes, capped."""
    return timedelta(seconds=min(60 * 2 ** min(attempts - 1, 20), settings.WEBHOOK_MAX_BACKOFF_SECONDS))


def webhook_claim(
    *, now: datetime | None = None, batch_size: int = BATCH_SIZE, ids: Iterable[int] | None = None
) -> list[tuple[int, datetime]]:
    """Claim due deliveries (only ``ids`` when given): ``(id, claimed_at)`` pairs.

    Rows another sweep holds are skipped, never waited for; rows stuck in ``sending`` past the
    lease (their worker died) are claimed again. Deliveries of turned-off endpoints wait.
    """
    now = now or timezone.now()
    due = Q(state__in=WAITING, next_attempt_at__lte=now)
    stale = Q(state=DeliveryState.SENDING, claimed_at__lt=now - _lease())
    with transaction.atomic():
        qs = (
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(due | stale)
            .filter(endpoint__is_active=True)
        )
        if ids is not None:
            qs = qs.filter(pk__in=list(ids))
        claimed = list(qs.order_by("next_attempt_at", "id").values_list("id", flat=True)[:batch_size])
        if claimed:
            WebhookDelivery.objects.filter(pk__in=claimed).update(state=DeliveryState.SENDING, claimed_at=now)
    return [(pk, now) for pk in claimed]


def webhook_deliver(*, delivery_id: int, claimed_at: datetime) -> str:
    """Send one claimed delivery and store the outcome; returns the resulting state.

    The claim is renewed first (a worker whose claim was taken over sends nothing); the HTTP
    request runs outside any transaction, so no row stays locked while a receiver is slow.
    """
    renewed = timezone.now()
    taken = WebhookDelivery.objects.filter(
        pk=delivery_id, state=DeliveryState.SENDING, claimed_at=claimed_at, endpoint__is_active=True
    ).update(claimed_at=renewed)
    if not taken:
        return "skipped"
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    body, headers = delivery_request(delivery)
    result = http_post(url=delivery.endpoint.url, body=body, headers=headers, timeout=settings.WEBHOOK_TIMEOUT_SECONDS)
    return webhook_record_attempt(delivery_id=delivery_id, claimed_at=renewed, result=result)


@transaction.atomic
def webhook_record_attempt(
    *, delivery_id: int, claimed_at: datetime, result: AttemptResult, now: datetime | None = None
) -> str:
    """Store an attempt's outcome: delivered, or failed with the next try (or abandoned), and
    the endpoint's failure streak (which may turn it off)."""
    now = now or timezone.now()
    delivery = WebhookDelivery.objects.select_for_update().filter(pk=delivery_id).first()
    if delivery is None or delivery.state != DeliveryState.SENDING or delivery.claimed_at != claimed_at:
        return "skipped"  # the lease ran out and another worker took over: its outcome counts
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=delivery.endpoint_id)
    delivery.attempts += 1
    delivery.last_status_code = result.status_code
    delivery.duration_ms = result.duration_ms
    delivery.last_error = result.error
    delivery.claimed_at = None
    if result.ok:
        delivery.state = DeliveryState.DELIVERED
        delivery.delivered_at = now
        delivery.next_attempt_at = None
        endpoint.consecutive_failures = 0
        endpoint.failing_since = None
        endpoint.last_success_at = now
        endpoint.save(update_fields=["consecutive_failures", "failing_since", "last_success_at"])
    else:
        retry_at = now + backoff(delivery.attempts)
        if retry_at > delivery.created_at + timedelta(hours=settings.WEBHOOK_RETRY_HOURS):
            delivery.state = DeliveryState.ABANDONED
            delivery.next_attempt_at = None
        else:
            delivery.state = DeliveryState.FAILED
            delivery.next_attempt_at = retry_at
        endpoint.consecutive_failures += 1
        endpoint.failing_since = endpoint.failing_since or now
        endpoint.save(update_fields=["consecutive_failures", "failing_since"])
        logger.info("webhooks: delivery %s attempt %s failed: %s", delivery.pk, delivery.attempts, result.error)
    delivery.save()
    if not result.ok and endpoint.is_active and _should_disable(endpoint, now):
        _disable(
            endpoint,
            now=now,
            reason=_("%(count)d failed attempts in a row since %(since)s; the last: %(error)s")
            % {
                "count": endpoint.consecutive_failures,
                "since": endpoint.failing_since.isoformat(timespec="seconds"),
                "error": result.error or result.status_code,
            },
        )
    return delivery.state


def _should_disable(endpoint: WebhookEndpoint, now: datetime) -> bool:
    long_enough = now - endpoint.failing_since >= timedelta(minutes=settings.WEBHOOK_DISABLE_AFTER_MINUTES)
    return endpoint.consecutive_failures >= settings.WEBHOOK_DISABLE_AFTER_FAILURES and long_enough


def webhook_sweep(
    *,
    ids: Iterable[int] | None = None,
    batch_size: int = BATCH_SIZE,
    max_batches: int = 50,
    time_budget: float = 50.0,
) -> int:
    """Claim due deliveries batch by batch and send them; returns how many were claimed.

    The time budget stops claiming well before the task's time limit, so a slow receiver
    delays deliveries instead of stranding claimed ones.
    """
    started = time.monotonic()
    wanted = list(ids) if ids is not None else None
    total = 0
    for _batch in range(max_batches):
        claimed = webhook_claim(batch_size=batch_size, ids=wanted)
        for index, (delivery_id, claimed_at) in enumerate(claimed):
            if time.monotonic() - started > time_budget:
                _release(claimed[index:])  # out of time: hand them back now, not after the lease
                return total + index
            try:
                webhook_deliver(delivery_id=delivery_id, claimed_at=claimed_at)
            except SoftTimeLimitExceeded:
                raise  # out of time: the lease hands the rest to a later sweep
            except Exception:
                # A bug or a database hiccup on one row must not strand the rest of the batch;
                # this row goes back to the sweep when its lease runs out.
                logger.exception("webhooks: delivery %s failed unexpectedly", delivery_id)
        total += len(claimed)
        if len(claimed) < batch_size or time.monotonic() - started > time_budget:
            break
    if ids is None:
        webhook_deliveries_purge()
    return total


def _release(claimed: list[tuple[int, datetime]]) -> None:
    """Give claimed deliveries that were not sent back to the sweep, due at once."""
    for delivery_id, claimed_at in claimed:
        WebhookDelivery.objects.filter(pk=delivery_id, state=DeliveryState.SENDING, claimed_at=claimed_at).update(
            state=Case(When(attempts=0, then=Value(DeliveryState.PENDING)), default=Value(DeliveryState.FAILED)),
            claimed_at=None,
        )


def webhook_deliveries_purge(*, now: datetime | None = None, limit: int = 5000) -> int:
    """Delete finished deliveries older than ``WEBHOOK_KEEP_DAYS`` (a few thousand per sweep)."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.WEBHOOK_KEEP_DAYS)
    old = list(
        WebhookDelivery.objects.filter(
            created_at__lt=cutoff, state__in=[DeliveryState.DELIVERED, DeliveryState.ABANDONED]
        )
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    if not old:
        return 0
    return WebhookDelivery.objects.filter(pk__in=old).delete()[0]


# --- Redelivery and test deliveries ---------------------------------------------------------


@transaction.atomic
def webhook_redeliver(*, deliveries: Iterable[WebhookDelivery]) -> list[WebhookDelivery]:
    """A new delivery of each one's event (same ``id``, new ``X-CRM-Delivery``), due now, for
    endpoints that are on; the old row stays in the log."""
    now = timezone.now()
    rows = [
        WebhookDelivery(
            endpoint_id=old.endpoint_id,
            event_id=old.event_id,
            kind=old.kind,
            payload=old.payload,
            next_attempt_at=now,
            created_at=now,
            redelivery_of=old,
        )
        for old in deliveries
        if old.endpoint.is_active
    ]
    if not rows:
        return []
    created = WebhookDelivery.objects.bulk_create(rows)
    outbox_enqueue(task=DELIVER_TASK, kwargs={"ids": [row.pk for row in created]})
    return created


@transaction.atomic
def webhook_ping(*, endpoints: Iterable[WebhookEndpoint], actor: User | None) -> list[WebhookDelivery]:
    """A ``ping`` delivery to each active endpoint, whatever it subscribes to."""
    now = timezone.now()
    ids = [endpoint.pk for endpoint in endpoints if endpoint.is_active]
    data = {"message": "ping", "sent_by": actor.get_username() if actor else None}
    return webhooks_emit(kind=PING_KIND, items=[data], endpoint_ids=ids, occurred_at=now)
