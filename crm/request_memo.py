"""Values remembered for the length of one request.

Some readings are wanted several times while one page is built (the custom field
definitions: by the filter form, the columns and the rows) and come from Redis each time:
a round trip and an unpickling per call. ``remember(key, compute)`` computes a value once
per request; outside a request (Celery tasks, management commands, the shell) it computes
every time, so nothing stale outlives a request, unless the work opens a ``scope()`` of its
own (the nightly customer-value run reads which campaign acquired which customer once for
its two periods). ``forget(key)`` drops a value within the request that changed it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from django.core.signals import request_finished, request_started
from django.dispatch import receiver

T = TypeVar("T")

_memo: ContextVar[dict[str, Any] | None] = ContextVar("crm_request_memo", default=None)


@receiver(request_started, dispatch_uid="crm.request_memo.start")
def _start(**kwargs: Any) -> None:
    _memo.set({})


@receiver(request_finished, dispatch_uid="crm.request_memo.finish")
def _finish(**kwargs: Any) -> None:
    _memo.set(None)


@contextmanager
def scope() -> Iterator[None]:
    """Remember values until the block ends, outside a request (inside one, the request's
    memo goes on)."""
    if _memo.get() is not None:
        yield
        return
    token = _memo.set({})
    try:
        yield
    finally:
        _memo.reset(token)


def remember(key: str, compute: Callable[[], T]) -> T:
    memo = _memo.get()
    if memo is None:
        return compute()
    if key not in memo:
        memo[key] = compute()
    return memo[key]


def forget(key: str) -> None:
    memo = _memo.get()
    if memo is not None:
        memo.pop(key, None)
