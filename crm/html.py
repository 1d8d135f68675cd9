"""Shared by the rows pages write in Python instead of a template per row
(``contacts.templatetags.contact_lists``, ``deals.templatetags.deal_rows``,
``activities.templatetags.activity_rows`` and ``activity_tags``' timeline)."""

from __future__ import annotations

import html
from datetime import datetime

from django.urls import reverse
from django.utils.dates import MONTHS_3, WEEKDAYS_ABBR

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
    month names are those of the active language); pass local times."""

    def __init__(self) -> None:
        self.months = {i: escape(str(MONTHS_3[i]).title()) for i in range(1, 13)}  # ``|date:"M"``
        self.weekdays = [escape(WEEKDAYS_ABBR[i]) for i in range(7)]  # ``|date:"D"``

    def day(self, local: datetime) -> str:
        """``|date:"j M Y"``."""
        return f"{local.day} {self.months[local.month]} {local.year}"

    def day_time(self, local: datetime) -> str:
        """``|date:"j M Y, H:i"``."""
        return f"{self.day(local)}, {local.hour:02d}:{local.minute:02d}"

    def weekday_time(self, local: datetime) -> str:
        """``|date:"D j M, H:i"``."""
        return (
            f"{self.weekdays[local.weekday()]} {local.day} {self.months[local.month]}, "
            f"{local.hour:02d}:{local.minute:02d}"
        )
