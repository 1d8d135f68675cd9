"""Dates in the reader's locale for templates, the same as the rows written in Python
(``crm.html.DateText``): ``{{ value|day }}``, ``{{ value|day_time }}``."""

from __future__ import annotations

from datetime import date, datetime

from django import template
from django.utils import timezone

from crm.html import DateText

register = template.Library()


def _local(value: datetime | date) -> datetime:
    if isinstance(value, datetime):
        return timezone.localtime(value) if timezone.is_aware(value) else value
    return datetime(value.year, value.month, value.day)


@register.filter
def day(value: datetime | date | None) -> str:
    """``3 Dec 2026``, ``3 дек. 2026``, ``2026年12月3日``."""
    return "" if value in (None, "") else DateText().day(_local(value))


@register.filter
def day_time(value: datetime | None) -> str:
    """``3 Dec 2026, 14:05``, ``3 дек. 2026, 14:05``, ``2026年12月3日 14:05``."""
    return "" if value in (None, "") else DateText().day_time(_local(value))
