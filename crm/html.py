"""Shared by the rows pages write in Python instead of a template per row
(``contacts.templatetags.contact_lists``, ``deals.templatetags.deal_rows``,
``activities.templatetags.activity_rows`` and ``activity_tags``' timeline)."""

from __future__ import annotations

import html
from datetime import datetime

from django.urls import reverse
from django.utils.dates import MONTHS_3, WEEKDAYS_ABBR

from crm.l10n import style

_MARKER = 999999999


def escape(value: object) -> str:
    """What autoescaping writes for ``value``: Django's ``escape`` is ``html.escape(str(value))``
    behind a lazy-string check that costs more than the escaping, dozens of times per row."""
    return html.escape(str(value))


def url_around_id(name: str, *args: object) -> tuple[str, str]:
    """A detail URL around its last argument, a record id, reversed once per page instead of
    once per row: ``url_around_id("deals:detail")`` → ``("/deals/", "/")``."""
    url = reverse(name, args=[*args, _MARKER])
    head, _sep, tail = url.rpartition(str(_MARKER))
    return head, tail


def escaped_url_around_id(name: str, *args: object) -> tuple[str, str]:
    """``url_around_id``, escaped as autoescaping writes an ``href``."""
    head, tail = url_around_id(name, *args)
    return escape(head), escape(tail)


class DateText:
    """Dates as ``|date`` writes them, for rows written in Python: ``dateformat`` looks up
    its translated names on every call, dozens of times per page. Build one per page (the
    month names and the order are those of the active language, ``crm.l10n``); pass local
    times. English: ``3 Dec 2026``; Russian: ``3 дек. 2026``; Chinese: ``2026年12月3日``."""

    def __init__(self) -> None:
        patterns = style()
        months = patterns["CRM_MONTHS_SHORT"] or [str(MONTHS_3[i]).title() for i in range(1, 13)]
        weekdays = patterns["CRM_WEEKDAYS_SHORT"] or [WEEKDAYS_ABBR[i] for i in range(7)]
        self.months = {i: escape(months[i - 1]) for i in range(1, 13)}  # ``|date:"M"``
        self.weekdays = [escape(day) for day in weekdays]  # ``|date:"D"``
        self._day = patterns["CRM_DAY_FORMAT"]
        self._day_time = patterns["CRM_DAY_TIME_FORMAT"]
        self._weekday_time = patterns["CRM_WEEKDAY_TIME_FORMAT"]

    def day(self, local: datetime) -> str:
        """``|date:"j M Y"`` in English."""
        return self._day.format(
            day=local.day, month=self.months[local.month], month_number=local.month, year=local.year
        )

    def day_time(self, local: datetime) -> str:
        """``|date:"j M Y, H:i"`` in English."""
        return self._day_time.format(date=self.day(local), time=f"{local.hour:02d}:{local.minute:02d}")

    def weekday_time(self, local: datetime) -> str:
        """``|date:"D j M, H:i"`` in English."""
        return self._weekday_time.format(
            weekday=self.weekdays[local.weekday()],
            day=local.day,
            month=self.months[local.month],
            month_number=local.month,
            time=f"{local.hour:02d}:{local.minute:02d}",
        )
