"""Customer value on another app's page: ``{% customer_value company %}`` on the company page.

One query: the company's value row with its profitability per period and its cross-sell
suggestions read in the same SELECT (``crm.orm.json_rows``), from the tables the nightly
recompute fills; nothing is computed per request.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django import template
from django.conf import settings
from django.db.models import OuterRef, QuerySet
from django.utils import timezone
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from contacts.models import Company
from crm.compiled import CompiledQuery
from crm.html import DateText
from crm.jinja2 import render
from crm.l10n import NumberText
from crm.orm import instances, json_rows
from deals.models import Product
from reports import charts
from reports.models import CrossSellSuggestion, CustomerProfit, CustomerValue
from reports.scope import add_months
from reports.templatetags.chart_tags import chart_svg
from reports.value import AT_RISK_SEGMENTS, PROFIT_GROUP_ADVICE, SEGMENT_ADVICE

register = template.Library()

CHART_QUARTERS = 8


def quarter_revenue(value: CustomerValue, *, today: dt.date | None = None) -> list[tuple[str, Decimal]]:
    """Revenue per quarter for the last ``CHART_QUARTERS`` quarters, oldest first, zeros included."""
    today = today or timezone.localdate()
    current = today.replace(month=(today.month - 1) // 3 * 3 + 1, day=1)
    quarters = [add_months(current, -3 * i) for i in reversed(range(CHART_QUARTERS))]
    return [(f"{q.year} Q{(q.month - 1) // 3 + 1}", Decimal(value.quarters.get(q.isoformat(), "0"))) for q in quarters]


def _value_card(key: object, *, company: int) -> QuerySet[CustomerValue]:
    """The company's value row, with its profitability per period and its cross-sell
    suggestions read in the same SELECT."""
    return (
        CustomerValue.objects.filter(company_id=company)
        .annotate(
            profit_rows=json_rows(CustomerProfit.objects.filter(company_id=OuterRef("company_id")).order_by("period")),
            suggestion_rows=json_rows(
                CrossSellSuggestion.objects.filter(company_id=OuterRef("company_id")).order_by("rank"),
                extra={"product_name": "product__name", "because_name": "because__name"},
            ),
        )
        .order_by()[:1]
    )


# Compiled once per process (crm/compiled.py): its JSON columns cost the ORM ~2 ms to build.
_VALUE_CARD = CompiledQuery(_value_card, company=int)


@register.simple_tag(takes_context=True)
def customer_value(context: template.Context, company: Company) -> SafeString:
    """The card (``reports/jinja2/reports/customer_value_card.html``); nothing for a viewer who
    may not read the company's owner's records."""
    user = context["request"].user
    if not user.can_read_owner(company.owner_id):
        return SafeString("")
    value = next(iter(_VALUE_CARD.fetch(company=company.pk)), None)
    suggestions, profits = [], []
    if value is not None:
        suggestions = instances(CrossSellSuggestion, value.suggestion_rows)
        for suggestion, row in zip(suggestions, value.suggestion_rows, strict=True):
            suggestion.product = Product(pk=suggestion.product_id, name=row["product_name"])
            if suggestion.because_id is not None:
                suggestion.because = Product(pk=suggestion.because_id, name=row["because_name"])
        profits = sorted(instances(CustomerProfit, value.profit_rows), key=lambda row: row.period != "12m")
    chart = None
    if value is not None and value.won_deals:
        points = quarter_revenue(value)
        chart = charts.bar_chart(
            title=_("Revenue won per quarter"),
            description=_(
                "Won deals and revenue from other systems (less refunds) of %(company)s per quarter, "
                "last two years, in %(currency)s."
            )
            % {"company": company.name, "currency": settings.BASE_CURRENCY},
            labels=[label for label, _amount in points],
            series=[(_("Revenue"), [amount for _label, amount in points])],
            height=170,
        )
    return render(
        "reports/customer_value_card.html",
        {
            "value": value,
            "suggestions": suggestions,
            "chart": chart,
            "chart_svg": chart_svg,
            "at_risk": value is not None and value.segment in AT_RISK_SEGMENTS,
            "advice": SEGMENT_ADVICE.get(value.segment, "") if value else "",
            "base_currency": settings.BASE_CURRENCY,
            "profits": profits,
            "profit_advice": next((PROFIT_GROUP_ADVICE[row.group] for row in profits if row.group), ""),
            "profit_group": next((row.get_group_display() for row in profits if row.group), ""),
            "profit_group_key": next((row.group for row in profits if row.group), ""),
            "num": NumberText(),
            "dates": DateText(),
            "texts": {
                "external": _("of which %(amount)s from other systems"),
                "estimated": _("%(amount)s estimated"),
                "serve": _("%(hours)s h: activities %(activities)s, cases %(cases)s, other systems %(other)s"),
            },
        },
    )
