"""The CRM's date rules for templates, the same as the rows written in Python
(``crm.html.DateText``): one per kind, in the reader's language, with the year whenever it is
not the current one.

- ``{{ value|day }}``: a date, ``3 Dec`` / ``8 Jun 2025``;
- ``{{ value|day_time }}``: a date and time, ``3 Dec, 14:05`` / ``8 Jun 2025, 09:30``;
- ``{{ value|ago }}``: relative, ``3 days ago`` / ``in 2 hours``;
  ``{% relative_time value %}`` wraps it in ``<time>`` with the date and time as its title.

Machine values (``value="2026-12-03"`` of an input, URL parameters, ``datetime=""``) keep
``|date:"Y-m-d"`` / ``|date:"c"``."""

from __future__ import annotations

from datetime import date, datetime

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from crm.html import DateText

register = template.Library()


@register.filter
def day(value: datetime | date | None) -> str:
    """``3 Dec`` this year, ``3 Dec 2025`` otherwise (``3 дек.``, ``2025年12月3日``)."""
    return DateText().day_of(value)


@register.filter
def day_time(value: datetime | None) -> str:
    """``3 Dec, 14:05`` this year, ``3 Dec 2025, 14:05`` otherwise."""
    return DateText().day_time_of(value)


@register.filter
def ago(value: datetime | None) -> str:
    """``5 minutes ago``, ``in 3 days``, ``just now``."""
    return "" if value in (None, "") else DateText().relative(value)


@register.simple_tag
def relative_time(value: datetime | None) -> SafeString | str:
    """``<time datetime="…" title="3 Dec, 14:05">5 minutes ago</time>``."""
    if value in (None, ""):
        return ""
    dates = DateText()
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        value.isoformat(),
        dates.day_time_of(value),
        dates.relative(value),
    )
