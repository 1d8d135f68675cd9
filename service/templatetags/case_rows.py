"""Case list rows, rendered in Python.

Through the list template, 50 cases cost ~150 model instances (the case and the company,
contact, queue and assignee it joins, every column of each) and two ``{% include %}``s per
row (the priority and SLA badges): 60–80 ms of CPU per page at 300,000 cases. As the
contact, deal and activity lists do (``deals.templatetags.deal_rows``), the page reads plain
rows of the columns it shows (``selectors.CASE_ROW_FIELDS``) and this tag writes the same
markup with f-strings: every value is escaped as autoescaping would, dates go through the
same ``crm.html.DateText`` rules as ``|day_time``, and the labels are looked up once per page.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django import template
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

from crm.custom_fields import CustomCells
from crm.html import DateText, escape, url_around_id
from crm.l10n import person_name
from service.models import ACTIVE_STATUSES, RUNNING_STATUSES, CasePriority, CaseStatus

register = template.Library()

_PRIORITY_CLASS = {
    CasePriority.URGENT: "text-bg-danger",
    CasePriority.HIGH: "text-bg-warning",
    CasePriority.LOW: "text-bg-light",
}


class _Times:
    """``|day_time`` and ``|date:'c'`` of the page's datetimes, each written once."""

    def __init__(self) -> None:
        self.text = DateText()
        self._cache: dict[dt.datetime, tuple[str, str]] = {}

    def __call__(self, value: dt.datetime) -> tuple[str, str]:
        cached = self._cache.get(value)
        if cached is None:
            local = timezone.localtime(value)
            cached = self._cache[value] = (self.text.day_time(local), local.isoformat())
        return cached


@register.simple_tag
def case_list_rows(
    rows: Iterable[Any], columns: list[str], custom: CustomCells, now: dt.datetime, editable: set[int]
) -> SafeString:
    """``<tr>``s of the case list (``service/case_list.html``'s header): the bulk tick box
    (only on the ``editable`` cases), the case, then ``columns`` (the built-in keys of
    ``views._case_columns`` and ``cf_<key>`` custom fields)."""
    detail_head, detail_tail = url_around_id("service:detail")
    priorities = {value: escape(label) for value, label in CasePriority.choices}
    statuses = {value: escape(label) for value, label in CaseStatus.choices}
    breached_label, paused_label = escape(gettext("Breached")), escape(gettext("paused"))
    breached = (
        f'<span class="badge text-bg-danger"><i class="bi bi-alarm" aria-hidden="true"></i> {breached_label}</span>'
    )
    reply_by, resolve_by = escape(gettext("reply by")), escape(gettext("resolve by"))
    paused = (
        '<span class="small text-secondary"><i class="bi bi-pause-circle" aria-hidden="true"></i> '
        f"{paused_label}</span>"
    )
    select = escape(gettext("Select"))
    times = _Times()
    out: list[str] = []
    for case in rows:
        customer = escape(case.company__name) if case.company_id else ""
        if case.company_id and case.contact_id:
            customer += " · "
        if case.contact_id:
            customer += escape(person_name(case.contact__first_name, case.contact__last_name))
        if case.assignee_id:
            assignee = escape(
                person_name(case.assignee__first_name, case.assignee__last_name) or case.assignee__username
            )
        else:
            assignee = "—"
        priority = case.priority
        status = case.status
        if case.sla_breached:
            sla = breached
        elif status in ACTIVE_STATUSES and case.first_responded_at is None and case.first_response_due_at:
            due = case.first_response_due_at
            sla = (
                f'<span class="small {"text-danger" if due < now else "text-secondary"}">'
                f"{reply_by} {times(due)[0]}</span>"
            )
        elif status in RUNNING_STATUSES and case.resolution_due_at:
            due = case.resolution_due_at
            sla = (
                f'<span class="small {"text-danger" if due < now else "text-secondary"}">'
                f"{resolve_by} {times(due)[0]}</span>"
            )
        elif status == CaseStatus.WAITING:
            sla = paused
        else:
            sla = "—"
        opened, opened_iso = times(case.created_at)
        cell = {
            "customer": f"<td>{customer}</td>",
            "queue": f"<td>{escape(case.team__name)}</td>",
            "assignee": f"<td>{assignee}</td>",
            "priority": f'<td><span class="badge case-priority case-priority-{escape(priority)} '
            f'{_PRIORITY_CLASS.get(priority, "text-bg-secondary")}">{priorities.get(priority, escape(priority))}'
            "</span></td>",
            "status": f"<td>{statuses.get(status, escape(status))}</td>",
            "sla": f"<td>{sla}</td>",
            "opened": f'<td class="text-nowrap"><time datetime="{opened_iso}">{opened}</time></td>',
        }
        cells = "".join(cell[key] if key in cell else custom.cell(case, key) for key in columns)
        subject = escape(case.subject)
        tick = (
            f'<input class="form-check-input" type="checkbox" name="ids" form="bulk-form" value="{case.id}" '
            f'aria-label="{select} #{case.id} {subject}">'
            if case.id in editable
            else ""
        )
        out.append(
            f'<tr>\n    <td class="text-center">{tick}</td>\n'
            f'    <td><a href="{detail_head}{case.id}{detail_tail}">#{case.id} {subject}</a></td>\n'
            f"    {cells}\n  </tr>"
        )
    return mark_safe("\n  ".join(out))  # noqa: S308 (every interpolated value is escaped above)
