"""Writes on users, teams and notifications; the transactional outbox and its relay."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from crm.celery import app as celery_app
from crm.models import Notification, Outbox, Role, Team, User

logger = logging.getLogger(__name__)


def user_create(
    *, username: str, password: str, role: str = Role.REP, email: str = "", first_name: str = "", last_name: str = ""
) -> User:
    user = User(
        username=username,
        email=email.lower(),
        first_name=first_name,
        last_name=last_name,
        role=role,
        is_staff=role == Role.ADMIN,
        is_superuser=role == Role.ADMIN,
    )
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    return user


def team_add_member(*, team: Team, user: User, manager: bool = False) -> None:
    if manager:
        team.managers.add(user)
    else:
        team.members.add(user)


def notification_create(*, user: User, text: str, link: str = "", dedupe_key: str | None = None) -> Notification | None:
    """Create an in-app notification; with ``dedupe_key`` a second call is a no-op.

    Returns the new notification, or ``None`` when one with the same key already exists.
    """
    if dedupe_key is None:
        return Notification.objects.create(user=user, text=text[:300], link=link)
    try:
        with transaction.atomic():
            return Notification.objects.create(user=user, text=text[:300], link=link, dedupe_key=dedupe_key)
    except IntegrityError:
        return None


def notification_mark_read(*, notification: Notification) -> Notification:
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
    return notification


def notifications_mark_all_read(*, user: User) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).update(read_at=timezone.now())


# --- Transactional outbox -------------------------------------------------------------------

OUTBOX_BATCH_SIZE = 100
OUTBOX_MAX_BACKOFF_SECONDS = 300


def outbox_enqueue(*, task: str, args: Sequence[Any] = (), kwargs: dict[str, Any] | None = None) -> Outbox:
    """Have Celery task ``task`` run after the caller's transaction commits — and only then.

    Writes an outbox row in the caller's transaction (so a rolled-back change sends nothing and
    a committed one is never lost, whatever the broker does) and asks for an immediate relay
    once it commits; beat's sweep (``crm.tasks.outbox_relay``) sends whatever that missed.
    ``args``/``kwargs`` must be JSON (ids, not objects); the task must be idempotent: it can
    run more than once.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("outbox_enqueue() writes in the caller's transaction: call it inside transaction.atomic()")
    row = Outbox.objects.create(task=task, args=list(args), kwargs=kwargs or {})
    transaction.on_commit(partial(_outbox_nudge, row.pk))
    return row


def _outbox_nudge(row_id: int) -> None:
    """Right after the commit, try to send the row at once; anything failing is left to beat.

    Runs in the request that made the change, which has already succeeded: it must never turn
    that success into an error page, so every error is logged and swallowed here.
    """
    try:
        outbox_relay(ids=[row_id])
    except Exception:
        logger.warning("outbox: immediate relay of row %s failed; the sweep will send it", row_id, exc_info=True)


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(2**attempts, OUTBOX_MAX_BACKOFF_SECONDS))


# The relay's own broker connection fails at once instead of retrying for seconds (kombu's
# default): the web request that runs the immediate relay must not hang on a broker that is
# down, and the sweep simply tries again on its next tick. It is kept per thread (a new
# connection per send costs ~30 ms) and replaced after an error or a change of broker URL.
RELAY_TRANSPORT_OPTIONS = {"max_retries": 0}
_relay_local = threading.local()


def _relay_producer(*, fresh: bool = False) -> Any:
    url = celery_app.conf.broker_write_url
    cached = getattr(_relay_local, "producer", None)
    if cached is not None and (fresh or cached[0] != url):
        _relay_drop()
        cached = None
    if cached is None:
        conn = celery_app.connection_for_write(url, transport_options=RELAY_TRANSPORT_OPTIONS)
        cached = _relay_local.producer = (url, conn, celery_app.amqp.Producer(conn, auto_declare=False))
    return cached[2]


def _relay_drop() -> None:
    cached = getattr(_relay_local, "producer", None)
    _relay_local.producer = None
    if cached is not None:
        try:
            cached[1].release()
        except Exception:
            logger.debug("outbox: closing the relay connection failed", exc_info=True)


def _send_with_reconnect(row: Outbox) -> None:
    try:
        _send(row, _relay_producer())
    except Exception:  # noqa: BLE001
        # The kept connection may be stale (Redis restarted since): once more on a new one.
        _send(row, _relay_producer(fresh=True))


def _send(row: Outbox, producer: Any) -> None:
    # One attempt, no blocking retry loop. The row id in the task id makes a message that was
    # sent again (at-least-once) recognisable in the worker's log.
    celery_app.send_task(
        row.task,
        args=tuple(row.args),
        kwargs=row.kwargs,
        task_id=f"outbox-{row.pk}-{row.attempts}",
        producer=producer,
        retry=False,
    )


@dataclass(frozen=True)
class RelayResult:
    sent: int
    failed: int
    error: str = ""


def outbox_relay(
    *, ids: Iterable[int] | None = None, batch_size: int = OUTBOX_BATCH_SIZE, now: datetime | None = None
) -> RelayResult:
    """Send one batch of due outbox rows (only ``ids`` when given) to the broker.

    Claims the rows with ``FOR UPDATE SKIP LOCKED`` (a concurrent relay takes other rows), sends
    them in order and marks them sent in the same short transaction. The first broker error
    stops the batch: that row gets ``attempts + 1``, ``last_error`` and a later
    ``available_at``; the others are untouched and wait for the next sweep.
    """
    now = now or timezone.now()
    with transaction.atomic():
        qs = Outbox.objects.filter(sent_at__isnull=True, available_at__lte=now)
        if ids is not None:
            qs = qs.filter(pk__in=list(ids))
        rows = list(qs.order_by("available_at", "id").select_for_update(skip_locked=True)[:batch_size])
        sent: list[int] = []
        error = ""
        for row in rows:
            try:
                _send_with_reconnect(row)
            except Exception as exc:  # noqa: BLE001 - any broker/transport error: retry later
                _relay_drop()
                error = f"{type(exc).__name__}: {exc}"[:2000]
                row.attempts += 1
                row.last_error = error
                row.available_at = now + _backoff(row.attempts)
                row.save(update_fields=["attempts", "last_error", "available_at"])
                logger.warning("outbox: sending %s (row %s) failed: %s", row.task, row.pk, error)
                break
            sent.append(row.pk)
        if sent:
            Outbox.objects.filter(pk__in=sent).update(sent_at=now, attempts=F("attempts") + 1)
    return RelayResult(sent=len(sent), failed=1 if error else 0, error=error)


def outbox_sweep(*, max_batches: int = 20) -> int:
    """Beat's relay: batches until nothing due is left (or the broker fails); returns rows sent."""
    total = 0
    for _batch in range(max_batches):
        result = outbox_relay()
        total += result.sent
        if result.failed or result.sent < OUTBOX_BATCH_SIZE:
            break
    outbox_purge()
    return total


def outbox_purge(*, now: datetime | None = None, limit: int = 5000) -> int:
    """Delete sent rows older than ``OUTBOX_KEEP_DAYS`` (a few thousand per sweep)."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.OUTBOX_KEEP_DAYS)
    old = list(Outbox.objects.filter(sent_at__lt=cutoff).order_by("sent_at").values_list("pk", flat=True)[:limit])
    if not old:
        return 0
    return Outbox.objects.filter(pk__in=old).delete()[0]
