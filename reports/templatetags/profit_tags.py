"""The Profitability page's tables (``{% profit_table %}``), written by the Jinja2 template
``reports/jinja2/reports/profit_table.html``: four tables of up to 15 customers print ~400
numbers, which cost the Django template language more than the page's queries."""

from __future__ import annotations

from collections.abc import Sequence

from django import template
from django.utils.safestring import SafeString
from django.utils.translation import gettext

from crm.html import IdUrl
from crm.jinja2 import render
from crm.l10n import NumberText
from reports.models import CustomerProfit

register = template.Library()


@register.simple_tag(takes_context=True)
def profit_table(
    context: template.Context, rows: Sequence[CustomerProfit], caption: str, compact: bool = False, empty: str = ""
) -> SafeString:
    """A table of customers' profitability: rank, company and owner, revenue, profit; and unless
    ``compact`` the gross margin, cost to serve, acquisition cost and why."""
    shared = context.render_context.get(profit_table)
    if shared is None:  # one formatter and one link pattern for the page's four tables
        shared = context.render_context[profit_table] = {
            "num": NumberText(),
            "company_url": IdUrl("contacts:company-detail"),
            "hours_text": gettext("%(hours)s h"),
            "keeps_text": gettext("Keeps %(percent)s %% of what they pay."),
        }
    return render(
        "reports/profit_table.html",
        {**shared, "rows": rows, "caption": caption, "compact": compact, "empty": empty},
    )
