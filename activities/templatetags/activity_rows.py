"""My day's activity rows (done toggle, links, reschedule menu) and the activity list's rows.

Each My day row is ~30 values, two URLs, three CSRF fields and three record links; through
``{% include %}`` of a row template that was most of My day's server time on the large
dataset (bench/FINDINGS.md, "My day and home"). The rows are Jinja2 templates
(``activities/jinja2/activities/``), each section's or page's rows one render
(``crm.jinja2``), the links built once per call. The htmx toggle and reschedule responses
render a row through the same template (``activities/partials/activity_row.html``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django import template
from django.utils import timezone
from django.utils.safestring import SafeString

from activities.models import Activity, ActivityType
from crm.html import DateText, IdUrl
from crm.jinja2 import render

register = template.Library()


class TypeLabels:
    """``label(activity_type)``: each type's name in the reader's language, translated once
    per render (a page's rows share a handful of types; ``ActivityType.label`` translates on
    every read). Passed as the bound method, which ``crm.jinja2`` calls directly."""

    def __init__(self) -> None:
        self._labels: dict[int, str] = {}

    def label(self, activity_type: ActivityType) -> str:
        label = self._labels.get(activity_type.pk)
        if label is None:
            label = self._labels[activity_type.pk] = activity_type.label
        return label


def _now(context: template.Context) -> datetime:
    now = context.get("now")
    return now if isinstance(now, datetime) else timezone.now()


@register.simple_tag(takes_context=True)
def activity_rows(context: template.Context, activities: Iterable[Activity]) -> SafeString:
    """``<li>`` rows for a ``list-group`` (select_related type, company, contact, deal)."""
    return render(
        "activities/activity_rows.html",
        {
            "activities": activities,
            "csrf_token": context.get("csrf_token"),
            "now": _now(context),
            "tz": timezone.get_current_timezone(),
            "type_label": TypeLabels().label,
            "dates": DateText(),
            "detail_url": IdUrl("activities:detail"),
            "toggle_url_of": IdUrl("activities:toggle-done"),
            "reschedule_url_of": IdUrl("activities:reschedule"),
            "records": (
                ("company", IdUrl("contacts:company-detail")),
                ("contact", IdUrl("contacts:contact-detail")),
                ("deal", IdUrl("deals:detail")),
            ),
        },
    )


@register.simple_tag(takes_context=True)
def activity_row(context: template.Context, activity: Activity) -> SafeString:
    return activity_rows(context, [activity])


@register.simple_tag(takes_context=True)
def activity_list_rows(context: template.Context, rows: Iterable[Any], selectable: bool = False) -> SafeString:
    """``<tr>``s of the activity list from ``selectors.activity_list_page`` rows labelled by
    ``selectors.label_list_rows``: the type icon and subject, the record it is linked to
    (its deal, else its contact, else its company), the assignee, the due time, the status
    and the day it was logged; with ``selectable``, a first column ticks the activities the
    user may change."""
    request = context.get("request")
    return render(
        "activities/activity_list_rows.html",
        {
            "rows": rows,
            # The user's own method, read once: through ``request.user`` (a lazy object) each
            # call costs two proxy lookups, on every row.
            "can_edit": request.user.can_edit_owner if selectable and request is not None else None,
            "now": _now(context),
            "tz": timezone.get_current_timezone(),
            "type_label": TypeLabels().label,
            "dates": DateText(),
            "detail_url": IdUrl("activities:detail"),
            "record_urls": {
                "deal": IdUrl("deals:detail"),
                "contact": IdUrl("contacts:contact-detail"),
                "company": IdUrl("contacts:company-detail"),
            },
        },
    )
