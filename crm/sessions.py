"""Sessions in PostgreSQL with a Redis copy, as Django's ``cached_db``, that survive a
Redis outage.

The database is the record; the cache only saves the one query per request that loads the
session. With Redis down the cache (``crm.cache.RedisCache``) misses and drops writes, so
every request reads its session from PostgreSQL and pages keep working. A cached copy lives
at most ``SESSION_CACHE_SECONDS``: a logout or password change while Redis was unreachable
(but kept its data) deletes the session from the database and not from the cache, and that
stale copy must not keep the session alive for the two weeks a session lasts.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.sessions.backends.cached_db import SessionStore as CachedDBStore


class SessionStore(CachedDBStore):
    def _cache_seconds(self, expiry_age: int) -> int:
        return max(0, min(expiry_age, settings.SESSION_CACHE_SECONDS))

    def load(self):
        data = self._cache.get(self.cache_key)
        if data is not None:
            return data
        session = self._get_session_from_db()
        if not session:
            return {}
        data = self.decode(session.session_data)
        self._cache.set(self.cache_key, data, self._cache_seconds(self.get_expiry_age(expiry=session.expire_date)))
        return data

    def save(self, must_create: bool = False) -> None:
        super(CachedDBStore, self).save(must_create)
        self._cache.set(self.cache_key, self._session, self._cache_seconds(self.get_expiry_age()))
