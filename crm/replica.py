"""Reading list and report pages from a streaming read replica, without surprising anyone.

With ``DATABASE_REPLICA_URL`` set, the GET requests of the views in ``REPLICA_VIEWS`` read the
replica; everything else reads and writes the primary. Three rules keep that honest:

* **Read your writes.** After a request that changed something, the primary's WAL position is
  kept for the user (in the cache, ``REPLICA_READ_YOUR_WRITES_SECONDS``). Their next list or
  report reads the replica only once the replica has replayed past that position, so a rep
  never sees a deal jump back after moving it. No fixed delay is guessed.
* **Say how old the data is.** When the replica is behind the primary by more than
  ``REPLICA_LAG_WARNING_SECONDS``, the page says "Data as of 14:05:09".
* **A replica that is down is skipped.** A failed status check or a connection error while a
  page reads the replica sends the page to the primary (logged as a warning) and keeps the
  replica out of use for ``REPLICA_RETRY_SECONDS``, never a 500.

The replica's position is checked at most every ``REPLICA_STATUS_SECONDS`` per process, so a
page read from the replica costs no extra query on either database most of the time.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connections
from django.http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)

ALIAS = "replica"
# The alias reads go to during this request/view; None: the router's default (the primary).
read_alias: ContextVar[str | None] = ContextVar("crm_read_alias", default=None)

SAFE_METHODS = frozenset({"GET", "HEAD"})


def configured() -> bool:
    return ALIAS in settings.DATABASES


def parse_lsn(text: str | None) -> int | None:
    """PostgreSQL's ``'16/B374D848'`` as a comparable integer."""
    if not text:
        return None
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) + int(low, 16)


@dataclass(frozen=True)
class ReplicaStatus:
    up: bool
    checked: float  # time.monotonic() of the check
    replay_lsn: int | None = None
    # The commit time of the last transaction the replica replayed, when it is behind.
    behind_since: datetime | None = None
    lag_seconds: float = 0.0


_status_lock = threading.Lock()
_status: ReplicaStatus | None = None


def _reset_status() -> None:
    """Forget the cached status (tests, and after a failed read)."""
    global _status
    with _status_lock:
        _status = None


def mark_down() -> None:
    global _status
    with _status_lock:
        _status = ReplicaStatus(up=False, checked=time.monotonic())


def status() -> ReplicaStatus:
    """The replica's replayed position and lag, checked at most every REPLICA_STATUS_SECONDS.

    Lag is measured against the primary: zero when the replica has replayed everything the
    primary wrote (an idle primary is not "lag"), else the age of the last replayed commit.
    """
    global _status
    now = time.monotonic()
    current = _status
    if current is not None:
        ttl = settings.REPLICA_STATUS_SECONDS if current.up else settings.REPLICA_RETRY_SECONDS
        if now - current.checked < ttl:
            return current
    try:
        with connections[ALIAS].cursor() as cursor:
            cursor.execute(
                "SELECT pg_last_wal_replay_lsn()::text, pg_last_xact_replay_timestamp(),"
                " EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())"
            )
            replay_text, replayed_at, age = cursor.fetchone()
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT pg_current_wal_lsn()::text")
            primary_lsn = parse_lsn(cursor.fetchone()[0])
    except DatabaseError:
        logger.warning("read replica unreachable: pages read the primary for %ss", settings.REPLICA_RETRY_SECONDS)
        _close_quietly()
        mark_down()
        return _status
    replay_lsn = parse_lsn(replay_text)
    behind = replay_lsn is None or (primary_lsn is not None and replay_lsn < primary_lsn)
    fresh = ReplicaStatus(
        up=True,
        checked=now,
        replay_lsn=replay_lsn,
        behind_since=replayed_at if behind else None,
        lag_seconds=float(age or 0.0) if behind else 0.0,
    )
    with _status_lock:
        _status = fresh
    return fresh


def _close_quietly() -> None:
    with contextlib.suppress(DatabaseError):
        connections[ALIAS].close()


def _written_key(user_id: int) -> str:
    return f"crm:replica:written:{user_id}"


def remember_write(user_id: int) -> None:
    """Keep the primary's WAL position after this user's write (read-your-writes)."""
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_insert_lsn()::text")
        lsn = cursor.fetchone()[0]
    cache.set(_written_key(user_id), lsn, timeout=settings.REPLICA_READ_YOUR_WRITES_SECONDS)


def replica_for(user_id: int | None) -> ReplicaStatus | None:
    """The replica's status if this user's page may read it, else None (read the primary)."""
    current = status()
    if not current.up:
        return None
    if user_id is not None:
        written = parse_lsn(cache.get(_written_key(user_id)))
        if written is not None and (current.replay_lsn is None or current.replay_lsn < written):
            return None
    return current


class ReplicaReadsMiddleware:
    """Runs the views named in REPLICA_VIEWS against the replica (see the module docstring).

    Goes last in MIDDLEWARE: its ``process_view`` calls the view itself, inside the routing
    context, after every other middleware has had its say (sign-in, two-factor).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if configured() and request.method not in SAFE_METHODS and response.status_code < 400:
            user = getattr(request, "user", None)
            if user is not None and user.is_authenticated:
                try:
                    remember_write(user.pk)
                except DatabaseError:
                    logger.warning("could not record the WAL position after a write", exc_info=True)
        return response

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        if not configured() or request.method not in SAFE_METHODS:
            return None
        match = request.resolver_match
        if match is None or match.view_name not in settings.REPLICA_VIEWS:
            return None
        user = getattr(request, "user", None)
        current = replica_for(user.pk if user is not None and user.is_authenticated else None)
        if current is None:
            return None
        if current.lag_seconds > settings.REPLICA_LAG_WARNING_SECONDS and current.behind_since is not None:
            request.data_as_of = current.behind_since
        token = read_alias.set(ALIAS)
        try:
            response = view_func(request, *view_args, **view_kwargs)
            if hasattr(response, "render") and not response.is_rendered:
                response.render()
            return response
        except DatabaseError:
            # The replica went away (or hit a recovery conflict) mid-page: read the primary.
            logger.warning("read replica failed during %s: reading the primary", match.view_name, exc_info=True)
            _close_quietly()
            mark_down()
            request.data_as_of = None
        finally:
            read_alias.reset(token)
        return view_func(request, *view_args, **view_kwargs)
