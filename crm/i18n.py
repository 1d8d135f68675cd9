"""The language and time zone a user reads the CRM in: their preference (``User.language``,
``User.time_zone``) or, when empty, the browser's Accept-Language and the server's time zone."""

from __future__ import annotations

import contextlib
import zoneinfo
from collections.abc import Iterator
from functools import cache

from django.conf import settings
from django.utils import timezone, translation


@cache
def time_zone_names() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


def language_codes() -> frozenset[str]:
    return frozenset(code for code, _name in settings.LANGUAGES)


def user_time_zone(user) -> zoneinfo.ZoneInfo | None:
    name = getattr(user, "time_zone", "") or ""
    if not name:
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def activate_for_user(user) -> None:
    """Activates ``user``'s language and time zone for this thread (a request)."""
    language = getattr(user, "language", "") or ""
    if language in language_codes():
        translation.activate(language)
    tz = user_time_zone(user)
    if tz is not None:
        timezone.activate(tz)
    else:
        timezone.deactivate()


@contextlib.contextmanager
def user_locale(user) -> Iterator[None]:
    """Renders what is sent to ``user`` (emails, exports made in the background) in their
    language and time zone; the site's default language when they chose none."""
    language = getattr(user, "language", "") or ""
    if language not in language_codes():
        language = settings.LANGUAGE_CODE
    tz = user_time_zone(user) or timezone.get_default_timezone()
    with translation.override(language), timezone.override(tz):
        yield
