"""Django's Redis cache, but an unreachable Redis is a cache miss instead of an error page.

Django's ``RedisCache`` lets every Redis error through, and Django's own callers (the
``cached_db`` session loader among them) do not catch them: with Redis down every signed-in
page answered 500. Here every operation that fails with a Redis or socket error logs a
warning (at most one every ``LOG_EVERY`` seconds per process) and returns what an empty
cache would: ``get`` the default, ``add``/``touch``/``delete``/``has_key`` ``False``,
``get_many`` nothing; writes are dropped. Everything the CRM caches can be recomputed or
read from PostgreSQL, so the pages stay up, only slower. ``ping()`` still raises, for
/healthz.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

LOG_EVERY = 10.0
ERRORS = (RedisError, OSError)


def _tolerant(fallback: Callable[..., Any]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def wrapper(self: RedisCache, *args: Any, **kwargs: Any) -> Any:
            try:
                return method(self, *args, **kwargs)
            except ERRORS as exc:
                self._log_error(method.__name__, exc)
                return fallback(*args, **kwargs)

        return wrapper

    return decorate


class RedisCache(DjangoRedisCache):
    _last_logged = 0.0

    def _log_error(self, operation: str, exc: Exception) -> None:
        now = time.monotonic()
        if now - RedisCache._last_logged >= LOG_EVERY:
            RedisCache._last_logged = now
            log.warning("cache %s failed, carrying on without the cache: %r", operation, exc)

    def ping(self) -> None:
        """Raise if Redis does not answer (the health check)."""
        self._cache.get_client(write=True).ping()

    @_tolerant(lambda *args, **kwargs: False)
    def add(self, *args, **kwargs):
        return super().add(*args, **kwargs)

    @_tolerant(lambda key, default=None, version=None: default)
    def get(self, key, default=None, version=None):
        return super().get(key, default, version)

    @_tolerant(lambda *args, **kwargs: None)
    def set(self, *args, **kwargs):
        return super().set(*args, **kwargs)

    @_tolerant(lambda *args, **kwargs: False)
    def touch(self, *args, **kwargs):
        return super().touch(*args, **kwargs)

    @_tolerant(lambda *args, **kwargs: False)
    def delete(self, *args, **kwargs):
        return super().delete(*args, **kwargs)

    @_tolerant(lambda *args, **kwargs: {})
    def get_many(self, *args, **kwargs):
        return super().get_many(*args, **kwargs)

    @_tolerant(lambda *args, **kwargs: False)
    def has_key(self, *args, **kwargs):
        return super().has_key(*args, **kwargs)

    @_tolerant(lambda data, *args, **kwargs: list(data))
    def set_many(self, *args, **kwargs):
        return super().set_many(*args, **kwargs)

    @_tolerant(lambda *args, **kwargs: None)
    def delete_many(self, *args, **kwargs):
        return super().delete_many(*args, **kwargs)

    @_tolerant(lambda *args, **kwargs: False)
    def clear(self, *args, **kwargs):
        return super().clear(*args, **kwargs)
