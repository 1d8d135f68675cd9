"""The Activity report's two tables' rows (``reports/activity.html``), written by the Jinja2
template ``reports/jinja2/reports/activity_rows.html``: an admin's leaderboard of every rep and
the weeks of a year print ~600 numbers, which cost the Django template language more than the
page's queries."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString

from crm.jinja2 import render
from reports.selectors import ActivityReport

register = template.Library()


@register.simple_tag
def activity_leaderboard_rows(report: ActivityReport) -> SafeString:
    """The leaderboard's ``<tr>``s: rank, rep, calls, meetings, tasks done, total, overdue tasks."""
    return render("reports/activity_rows.html", {"table": "leaderboard", "lines": report.leaderboard})


@register.simple_tag
def activity_week_rows(report: ActivityReport) -> SafeString:
    """The weeks' ``<tr>``s: week, calls, meetings, tasks done."""
    return render("reports/activity_rows.html", {"table": "weeks", "lines": report.by_week})
