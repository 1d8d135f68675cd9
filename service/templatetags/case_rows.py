"""Case list rows.

Through the list template, 50 cases cost ~150 model instances (the case and the company,
contact, queue and assignee it joins, every column of each) and two ``{% include %}``s per
row (the priority and SLA badges): 60–80 ms of CPU per page at 300,000 cases. As the
contact, deal and activity lists do (``deals.templatetags.deal_rows``), the page reads plain
rows of the columns it shows (``selectors.CASE_ROW_FIELDS``) and this tag renders them in one
Jinja2 template (``service/jinja2/service/case_list_rows.html``); dates go through the same
``crm.html.DateText`` rules as ``|day_time``, and the labels are looked up once per page.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django import template
from django.utils.safestring import SafeString

from crm.custom_fields import CustomCells
from crm.html import DateText, IdUrl
from crm.jinja2 import render
from crm.l10n import choice_labels, person_name
from crm.templatetags.bulk_tags import bulk_bar_html, bulk_status_html
from crm.templatetags.list_chrome import list_page_context
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
            local = self.text.local(value)
            cached = self._cache[value] = (self.text.day_time(local), local.isoformat())
        return cached


@register.simple_tag
def case_list_rows(
    rows: Iterable[Any], columns: list[str], custom: CustomCells, now: dt.datetime, editable: set[int]
) -> SafeString:
    """``<tr>``s of the case list (``service/case_list.html``'s header): the bulk tick box
    (only on the ``editable`` cases), the case, then ``columns`` (the built-in keys of
    ``views._case_columns`` and ``cf_<key>`` custom fields)."""
    return render(
        "service/case_list_rows.html",
        {
            "rows": rows,
            "columns": columns,
            "custom": custom,
            "now": now,
            "editable": editable,
            "detail_url": IdUrl("service:detail"),
            "priorities": choice_labels(CasePriority),
            "statuses": choice_labels(CaseStatus),
            "priority_classes": _PRIORITY_CLASS,
            "active": ACTIVE_STATUSES,
            "running": RUNNING_STATUSES,
            "waiting": CaseStatus.WAITING,
            "times": _Times(),
            "person_name": person_name,
        },
    )


@register.simple_tag(takes_context=True)
def case_list_page(context: template.Context) -> SafeString:
    """The content of the case list (``service/jinja2/service/list_page.html``) from the view's context."""
    request = context["request"]
    page_context = list_page_context(context)
    views = page_context["views"]
    page = page_context["page"]
    querystring = page_context["querystring"]
    return render(
        "service/list_page.html",
        {
            **page_context,
            "page_query": querystring,
            "bulk_status": bulk_status_html(request, "case"),
            "bulk_bar": bulk_bar_html(request, "case", count=None, query=querystring, views=views) if page.rows else "",
            "rows": case_list_rows(
                page.rows,
                page_context["columns"],
                page_context["custom_cells"],
                page_context["now"],
                page_context["editable"],
            ),
        },
    )
