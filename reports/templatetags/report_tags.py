"""Filters for the report builder's table, cards and email."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template
from django.contrib.humanize.templatetags.humanize import intcomma
from django.template.defaultfilters import floatformat

register = template.Library()


@register.filter
def index(sequence: Any, position: int) -> Any:
    try:
        return sequence[position]
    except (IndexError, TypeError, KeyError):
        return None


@register.filter
def measure(value: Any, measure: Any) -> str:
    """A figure as its measure reads: 1,204 deals, 48,250 (money), 37.5%, 12.3 days; – for none."""
    if value is None:
        return "–"
    kind = getattr(measure, "kind", "number")
    if kind == "count":
        return intcomma(int(value))
    if kind == "money":
        return intcomma(floatformat(value, 0))
    if kind == "percent":
        return f"{floatformat(value, 1)}%"
    if isinstance(value, int) or (isinstance(value, Decimal) and value == value.to_integral()):
        return intcomma(int(value))
    return intcomma(floatformat(value, 1))
