"""Django's Redis cache, but an unreachable Redis is a cache miss instead of an error page.

Django's ``RedisCache`` lets every Redis error through, and Django's own callers (the
``cached_db`` session loader among them) do not catch them: with Redis down every signed-in
page answered 500. Here every operation that fails with a Redis or socket error logs a
warning (at most one every ``LOG_EVERY`` seconds per process) and returns what an empty
cache would: ``get`` the default, ``add``/``touch``/``delete``/``has_key`` ``False``,
``get_many`` nothing; writes are dropped. Everything the CRM caches can be recomputed or
read from PostgreSQL, so the pages stay up, only slower. ``ping()`` still raises, for
/healthz.

It also keeps one ``redis.Redis`` per connection pool: Django's client builds a new one for
every operation, copying its table of ~170 response callbacks each time (60 µs, and a page
makes several cache calls).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient as DjangoRedisCacheClient
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


class RedisCacheClient(DjangoRedisCacheClient):
    """Django's client, reusing one ``redis.Redis`` per connection pool (a ``redis.Redis``
    is only a pool and its settings, safe to share between operations and threads)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class RedisCache(DjangoRedisCache):
    _last_logged = 0.0

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient

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
