"""Rows of the report pages' longer tables, written by Jinja2 templates: an admin's Activity
leaderboard of every rep and the weeks of a year, Win/loss by owner, the Retention cohorts
grid (two years of months by eight quarters) or a page of Top or Dormant customers print
hundreds of numbers, which cost the Django template language more than the pages' queries.
The tables' frames stay in the pages' Django templates; the whitespace around each row is
theirs."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from django import template
from django.core.paginator import Page
from django.utils.formats import localize
from django.utils.safestring import SafeString
from django.utils.translation import ngettext

from contacts.models import ValueSegment
from crm.html import DateText, IdUrl
from crm.jinja2 import render
from crm.l10n import NumberText, choice_labels
from reports.models import CustomerValue
from reports.selectors import ActivityReport, CohortReport, WinLossLine

register = template.Library()


@register.simple_tag
def activity_leaderboard_rows(report: ActivityReport) -> SafeString:
    """The leaderboard's ``<tr>``s: rank, rep, calls, meetings, tasks done, total, overdue tasks."""
    return render("reports/activity_rows.html", {"table": "leaderboard", "lines": report.leaderboard})


@register.simple_tag
def activity_week_rows(report: ActivityReport) -> SafeString:
    """The weeks' ``<tr>``s: week, calls, meetings, tasks done."""
    return render("reports/activity_rows.html", {"table": "weeks", "lines": report.by_week})


@register.simple_tag
def winloss_rows(lines: Sequence[WinLossLine]) -> SafeString:
    """``<tr>``s of a Win/loss table (``reports/partials/winloss_table.html``): label, won, lost,
    win rate, won amount."""
    return render("reports/winloss_rows.html", {"lines": lines, "num": NumberText()})


@register.simple_tag
def cohort_rows(report: CohortReport, quarters: Sequence[str]) -> SafeString:
    """The Retention cohorts table's ``<tr>``s: cohort month, customers, first-month revenue,
    then per quarter the share buying again and the revenue retention (or "not reached yet")."""
    context = {"rows": report.rows, "columns": len(quarters) + 3, "num": NumberText()}
    return render("reports/cohort_rows.html", context)


@register.simple_tag
def top_customer_rows(rows: Sequence[CustomerValue], page: Page, at_risk: Collection[str]) -> SafeString:
    """The Top customers table's ``<tr>``s: rank, company and owner, segment with its scores
    and service trouble, lifetime value, revenue (12 months, all time), won deals, last
    purchase, open pipeline, suggested offer."""
    context = {
        "rows": rows,
        "start": page.start_index(),
        "at_risk": at_risk,
        "segments": choice_labels(ValueSegment),
        "company_url": IdUrl("contacts:company-detail"),
        "num": NumberText(),
        "dates": DateText(),
    }
    return render("reports/top_customer_rows.html", context)


class _QuietDays:
    """``N days`` as the Dormant table writes how long a customer has been quiet, translated
    once per number of days (a page of 100 customers has a few dozen distinct numbers)."""

    def __init__(self) -> None:
        self._texts: dict[int, str] = {}

    def __call__(self, days: int | None) -> str:
        if days is None:  # never touched: nothing to count from
            return "–"
        text = self._texts.get(days)
        if text is None:
            text = self._texts[days] = ngettext("%(days)s day", "%(days)s days", days) % {"days": localize(days)}
        return text


@register.simple_tag
def dormant_rows(rows: Sequence[CustomerValue]) -> SafeString:
    """The Dormant customers table's ``<tr>``s: company and owner, segment, quiet for, last
    purchase, lifetime value, and the follow-up task (done, open, or due tomorrow morning)."""
    context = {
        "rows": rows,
        "segments": choice_labels(ValueSegment),
        "quiet": _QuietDays(),
        "company_url": IdUrl("contacts:company-detail"),
        "activity_url": IdUrl("activities:detail"),
        "num": NumberText(),
        "dates": DateText(),
    }
    return render("reports/dormant_rows.html", context)
