"""What the row templates (``<app>/jinja2/``, rendered by ``crm.jinja2.render``) and the
Django templates share: record links built once per page, and the CRM's date rules."""

from __future__ import annotations

import functools
from datetime import date, datetime

from django.urls import reverse
from django.utils import timezone
from django.utils.dates import MONTHS_3
from django.utils.timesince import timesince, timeuntil
from django.utils.translation import get_language, gettext

from crm.l10n import style


class IdUrl:
    """The URL of ``name`` around a record id (its last argument), reversed once per page
    instead of once per row: ``IdUrl("deals:detail")(7)`` → ``"/deals/7/"``."""

    _MARKER = 999999999
    __slots__ = ("head", "tail")

    def __init__(self, name: str, *args: object) -> None:
        url = reverse(name, args=[*args, self._MARKER])
        self.head, _marker, self.tail = url.rpartition(str(self._MARKER))

    def __call__(self, pk: object) -> str:
        return f"{self.head}{pk}{self.tail}"


@functools.cache
def _month_names(language: str) -> dict[int, str]:
    """Month number → short name (``|date:"M"``) in ``language``, the active one: translated
    once per process (a page builds several ``DateText``)."""
    months = style(language)["CRM_MONTHS_SHORT"] or [str(MONTHS_3[i]).title() for i in range(1, 13)]
    return {i: str(months[i - 1]) for i in range(1, 13)}


class DateText:
    """The CRM's one rule per kind of date, in the active language (``crm.l10n`` patterns);
    build one per page and pass local times. Templates use the same rules through
    ``crm_l10n``'s ``|day``, ``|day_time`` and ``|ago`` filters.

    - a date: ``3 Dec`` in the current year, ``8 Jun 2025`` in any other (Russian ``3 дек.``,
      ``8 июн. 2025``; Chinese ``12月3日``, ``2025年6月8日``);
    - a date and time: the date as above and the 24-hour time, ``3 Dec, 14:05``;
    - relative: ``3 days ago``, ``in 2 hours``, ``just now`` (``relative``), for "when did it
      happen" next to notifications and activity, with the date and time in its title.

    A weekday without the year ("Sun 8 Jun") misled: 8 Jun is a Monday this year."""

    def __init__(self, today: date | None = None) -> None:
        language = get_language() or "en"
        patterns = style(language)
        self.months = _month_names(language)
        self._day = patterns["CRM_DAY_FORMAT"]
        self._day_this_year = patterns["CRM_DAY_THIS_YEAR_FORMAT"]
        self._day_time = patterns["CRM_DAY_TIME_FORMAT"]
        self.year = (today or timezone.localdate()).year
        self._zone = timezone.get_current_timezone()  # looked up once: ~2 µs a row otherwise

    def day(self, local: datetime | date) -> str:
        """``3 Dec`` this year, ``3 Dec 2025`` otherwise."""
        pattern = self._day_this_year if local.year == self.year else self._day
        return pattern.format(day=local.day, month=self.months[local.month], month_number=local.month, year=local.year)

    def day_time(self, local: datetime) -> str:
        """``3 Dec, 14:05`` this year, ``3 Dec 2025, 14:05`` otherwise."""
        return self._day_time.format(date=self.day(local), time=f"{local.hour:02d}:{local.minute:02d}")

    def local(self, value: datetime) -> datetime:
        """An aware datetime in the page's time zone (read once: ``timezone.localtime`` looks
        it up on every call); a naive one as it is."""
        return value.astimezone(self._zone) if value.tzinfo is not None else value

    def day_of(self, value: datetime | date | None) -> str:
        """``value`` (aware datetimes in the current time zone) as the ``|day`` filter writes it."""
        if value is None or value == "":
            return ""
        return self.day(self.local(value) if isinstance(value, datetime) else value)

    def day_time_of(self, value: datetime | None) -> str:
        """``value`` in the current time zone as the ``|day_time`` filter writes it."""
        if value is None or value == "":
            return ""
        if not isinstance(value, datetime):
            return self.day(value)
        return self.day_time(self.local(value))

    def relative(self, value: datetime, now: datetime | None = None) -> str:
        """``5 minutes ago``, ``in 3 days``, ``just now``: the largest unit only."""
        now = now or timezone.now()
        seconds = (now - value).total_seconds()
        if abs(seconds) < 60:
            return gettext("just now")
        if seconds > 0:
            return gettext("%(span)s ago") % {"span": timesince(value, now, depth=1)}
        return gettext("in %(span)s") % {"span": timeuntil(value, now, depth=1)}
