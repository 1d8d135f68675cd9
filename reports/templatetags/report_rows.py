"""Rows of the report pages' longer tables, written by Jinja2 templates: an admin's Activity
leaderboard of every rep and the weeks of a year, Win/loss by owner, or the Retention cohorts
grid (two years of months by eight quarters) print hundreds of numbers, which cost the Django
template language more than the pages' queries. The tables' frames stay in the pages' Django
templates; the whitespace around each row is theirs."""

from __future__ import annotations

from collections.abc import Sequence

from django import template
from django.utils.safestring import SafeString

from crm.jinja2 import render
from crm.l10n import NumberText
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
