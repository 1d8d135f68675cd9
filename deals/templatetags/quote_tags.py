"""``{% deal_quotes deal can_edit %}``: the deal page's quotes card."""

from __future__ import annotations

from typing import Any

from django import template

from deals.models import Deal
from deals.quotes import deal_quotes as quotes_of

register = template.Library()


@register.inclusion_tag("deals/partials/quotes.html", takes_context=True)
def deal_quotes(context: template.Context, deal: Deal, can_edit: bool) -> dict[str, Any]:
    return {
        "deal": deal,
        "quotes": quotes_of(deal),
        "can_edit": can_edit,
        "csrf_token": context.get("csrf_token"),
    }
