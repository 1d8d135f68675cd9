from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.db import transaction
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from contacts.models import Source, ValueSegment
from crm.exports import csv_response, csv_streaming_response, xlsx_response
from crm.params import optional_int, parse_choice, safe_next
from crm.services import outbox_enqueue
from reports import builder, charts, selectors, services, tasks
from reports.dashboards import (
    can_manage_team,
    dashboard_for_user,
    dashboards_visible_to,
    default_dashboards,
    item_renderer,
    register_item_kind,
    saved_report_for_user,
    saved_reports_visible_to,
)
from reports.forms import DashboardForm, PinForm, SavedReportForm, pinnable_dashboards
from reports.models import DashboardItem, DashboardItemKind, ProfitGroup, ProfitPeriod, SavedReportSubscription
from reports.scope import ReportScope, ServiceScope, add_months, report_scope_for_user, service_scope_for_user
from reports.value import AT_RISK_SEGMENTS, GROWTH_MIN_PROFIT_PERCENT, PROFIT_GROUP_ADVICE


def _context(request: HttpRequest, scope: ReportScope, report: str, **extra: Any) -> dict[str, Any]:
    return {
        "scope": scope,
        "report": report,
        "status": extra.pop("status"),
        "base_currency": settings.BASE_CURRENCY,
        "csv_url": f"{reverse(f'reports:{report}-csv')}?{scope.query()}",
        **extra,
    }


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    boards = [
        {"dashboard": board, "cards": _dashboard_cards(request, board)}
        for board in default_dashboards(request.user)[:3]
    ]
    return render(
        request,
        "reports/index.html",
        {
            "status": selectors.rollup_status(),
            "can_rebuild": request.user.is_admin or request.user.is_manager,
            "default_boards": boards,
            "base_currency": settings.BASE_CURRENCY,
        },
    )


def _funnel(request: HttpRequest) -> tuple[ReportScope, selectors.RollupStatus, selectors.FunnelReport]:
    scope = report_scope_for_user(request.user, request.GET, require_pipeline=True)
    status = selectors.rollup_status()
    return scope, status, selectors.funnel_report(scope, status.generation_id)


@require_GET
def funnel(request: HttpRequest) -> HttpResponse:
    scope, status, report = _funnel(request)
    chart_text = {
        "title": _("Sales funnel: deals entering each stage"),
        "description": _("Deals of %(pipeline)s that entered each stage from %(start)s to %(end)s.")
        % {"pipeline": scope.pipeline or "", "start": f"{scope.start:%Y-%m}", "end": f"{scope.end:%Y-%m}"},
        "steps": [
            (row.stage.name, row.entered, f"({row.of_top:g}%)" if row.of_top is not None else "") for row in report.rows
        ],
    }
    chart = charts.funnel_chart(**chart_text)
    narrow_chart = charts.funnel_chart_narrow(**chart_text)
    subscribed = selectors.subscribed_team_ids(request.user) if request.user.is_manager else set()
    context = _context(request, scope, "funnel", status=status, funnel=report, chart=chart, subscribed=subscribed)
    context["narrow_chart"] = narrow_chart
    return render(request, "reports/funnel.html", context)


@require_GET
def funnel_csv(request: HttpRequest) -> HttpResponse:
    _scope, _status, report = _funnel(request)
    header = [
        _("Stage"),
        _("Entered"),
        _("Reached a later stage"),
        _("Dropped"),
        _("Conversion %"),
        _("Share of top %"),
    ]
    header.append(_("Amount (%(currency)s)") % {"currency": settings.BASE_CURRENCY})
    rows = [
        [row.stage.name, row.entered, row.reached_later, row.dropped, row.conversion, row.of_top, row.amount]
        for row in report.rows
    ]
    return csv_response("funnel.csv", header, rows, request=request)


def _forecast(request: HttpRequest) -> tuple[ReportScope, selectors.RollupStatus, selectors.ForecastReport]:
    scope = report_scope_for_user(request.user, request.GET)
    status = selectors.rollup_status()
    return scope, status, selectors.forecast_report(scope, status.generation_id)


@require_GET
def forecast(request: HttpRequest) -> HttpResponse:
    scope, status, report = _forecast(request)
    dated = [line for line in report.by_month if line.key is not None]
    chart = charts.bar_chart(
        title=_("Forecast by expected close month"),
        description=_("Weighted and unweighted amount of open deals per expected close month, in %(currency)s.")
        % {"currency": settings.BASE_CURRENCY},
        labels=[line.label for line in dated],
        series=[
            (_("Weighted"), [line.weighted for line in dated]),
            (_("Unweighted"), [line.unweighted for line in dated]),
        ],
    )
    context = _context(request, scope, "forecast", status=status, forecast=report, chart=chart)
    return render(request, "reports/forecast.html", context)


@require_GET
def forecast_csv(request: HttpRequest) -> HttpResponse:
    _scope, _status, report = _forecast(request)
    header = [_("Expected close month"), _("Owner"), _("Open deals"), _("Weighted"), _("Unweighted")]
    rows = [[line.label or _("No date"), "", line.deals, line.weighted, line.unweighted] for line in report.by_month]
    rows += [["", line.label, line.deals, line.weighted, line.unweighted] for line in report.by_owner]
    return csv_response("forecast.csv", header, rows, request=request)


def _accuracy(request: HttpRequest) -> tuple[ReportScope, selectors.RollupStatus, list[selectors.AccuracyRow]]:
    scope = report_scope_for_user(request.user, request.GET)
    status = selectors.rollup_status()
    return scope, status, selectors.forecast_accuracy(scope, status.generation_id)


@require_GET
def accuracy(request: HttpRequest) -> HttpResponse:
    scope, status, rows = _accuracy(request)
    chart = charts.bar_chart(
        title=_("Forecast against actual"),
        description=_("Per month, the weighted forecast taken as the month began and the amount won in it."),
        labels=[f"{row.month:%Y-%m}" for row in rows],
        series=[(_("Forecast (weighted)"), [row.forecast for row in rows]), (_("Won"), [row.actual for row in rows])],
    )
    context = _context(request, scope, "accuracy", status=status, rows=rows, chart=chart)
    return render(request, "reports/accuracy.html", context)


@require_GET
def accuracy_csv(request: HttpRequest) -> HttpResponse:
    _scope, _status, rows = _accuracy(request)
    header = [_("Month"), _("Forecast (weighted)"), _("Forecast (unweighted)"), _("Won"), _("Accuracy %")]
    data = [[f"{r.month:%Y-%m}", r.forecast, r.forecast_unweighted, r.actual, r.accuracy] for r in rows]
    return csv_response("forecast-accuracy.csv", header, data, request=request)


def _winloss(request: HttpRequest) -> tuple[ReportScope, selectors.RollupStatus, selectors.WinLossReport]:
    scope = report_scope_for_user(request.user, request.GET)
    status = selectors.rollup_status()
    labels = {str(value): str(label) for value, label in Source.choices} | {"": _("Unknown")}
    return scope, status, selectors.winloss_report(scope, status.generation_id, source_labels=labels)


@require_GET
def winloss(request: HttpRequest) -> HttpResponse:
    scope, status, report = _winloss(request)
    rate_chart = charts.line_chart(
        title=_("Win rate by month"),
        description=_("Won deals as a share of won and lost deals closed in each month."),
        labels=[line.label for line in report.by_month],
        values=[line.win_rate for line in report.by_month],
    )
    reasons_chart = charts.bar_chart(
        title=_("Lost reasons"),
        description=_("Number of lost deals per lost reason in the period."),
        labels=[line.label or _("No reason") for line in report.reasons],
        series=[(_("Lost deals"), [line.lost for line in report.reasons])],
        height=220,
    )
    context = _context(
        request, scope, "winloss", status=status, winloss=report, rate_chart=rate_chart, reasons_chart=reasons_chart
    )
    return render(request, "reports/winloss.html", context)


@require_GET
def winloss_csv(request: HttpRequest) -> HttpResponse:
    _scope, _status, report = _winloss(request)
    header = [_("Group"), _("Value"), _("Won"), _("Lost"), _("Win rate %"), _("Won amount"), _("Lost amount")]
    rows = []
    for group, lines in (
        (_("Month"), report.by_month),
        (_("Owner"), report.by_owner),
        (_("Source"), report.by_source),
        (_("Lost reason"), report.reasons),
    ):
        rows += [
            [group, line.label, line.won, line.lost, line.win_rate, line.won_amount, line.lost_amount] for line in lines
        ]
    return csv_response("win-loss.csv", header, rows, request=request)


def _velocity(request: HttpRequest) -> tuple[ReportScope, selectors.RollupStatus, selectors.VelocityReport]:
    scope = report_scope_for_user(request.user, request.GET, require_pipeline=True)
    status = selectors.rollup_status()
    return scope, status, selectors.velocity_report(scope, status.generation_id)


@require_GET
def velocity(request: HttpRequest) -> HttpResponse:
    scope, status, report = _velocity(request)
    chart = charts.bar_chart(
        title=_("Average days in each stage"),
        description=_("Average length of a finished stay in each stage of %(pipeline)s, in days.")
        % {"pipeline": scope.pipeline or ""},
        labels=[row.stage.name for row in report.stage_times],
        series=[(_("Days"), [row.average_days for row in report.stage_times])],
        height=220,
    )
    context = _context(request, scope, "velocity", status=status, velocity=report, chart=chart)
    return render(request, "reports/velocity.html", context)


@require_GET
def velocity_csv(request: HttpRequest) -> HttpResponse:
    _scope, _status, report = _velocity(request)
    rows: list[list[object]] = [
        [_("Average days in stage"), row.stage.name, row.average_days, row.visits] for row in report.stage_times
    ]
    rows += [
        [_("Open deals"), "", report.open_deals, ""],
        [_("Win rate %"), "", report.win_rate, ""],
        [_("Average won deal size"), "", report.average_won, ""],
        [_("Sales cycle (days)"), "", report.cycle_days, ""],
        [_("Sales velocity per day"), "", report.velocity_per_day, ""],
    ]
    return csv_response("velocity.csv", [_("Measure"), _("Stage"), _("Value"), _("Stays")], rows, request=request)


def _activity(
    request: HttpRequest, *, with_cells: bool = False
) -> tuple[ReportScope, selectors.RollupStatus, selectors.ActivityReport]:
    scope = report_scope_for_user(request.user, request.GET)
    status = selectors.rollup_status()
    return scope, status, selectors.activity_report(scope, status.generation_id, with_cells=with_cells)


@require_GET
def activity(request: HttpRequest) -> HttpResponse:
    scope, status, report = _activity(request)
    chart = charts.bar_chart(
        title=_("Activities done per week"),
        description=_("Calls, meetings and tasks done in each week of the period."),
        labels=[line.label for line in report.by_week],
        series=[
            (_("Calls"), [line.calls for line in report.by_week]),
            (_("Meetings"), [line.meetings for line in report.by_week]),
            (_("Tasks done"), [line.tasks_done for line in report.by_week]),
        ],
    )
    context = _context(request, scope, "activity", status=status, activity=report, chart=chart)
    return render(request, "reports/activity.html", context)


@require_GET
def activity_csv(request: HttpRequest) -> HttpResponse:
    _scope, _status, report = _activity(request, with_cells=True)
    header = [_("Week"), _("Owner"), _("Calls"), _("Meetings"), _("Tasks done")]
    rows = [
        [f"{cell.key[0]:%Y-%m-%d}", cell.label, cell.calls, cell.meetings, cell.tasks_done] for cell in report.cells
    ]
    rows += [[_("Overdue tasks now"), line.label, "", "", line.overdue] for line in report.leaderboard if line.overdue]
    return csv_response("activity.csv", header, rows, request=request)


def _service(request: HttpRequest) -> tuple[ServiceScope, selectors.RollupStatus, selectors.ServiceReport]:
    scope = service_scope_for_user(request.user, request.GET)
    status = selectors.rollup_status()
    return scope, status, selectors.service_report(scope, status.generation_id)


@require_GET
def service(request: HttpRequest) -> HttpResponse:
    scope, status, report = _service(request)
    backlog_chart = charts.bar_chart(
        title=_("Open cases by age"),
        description=_("Cases now new, open or waiting on the customer in your queues, by days since they were opened."),
        labels=[str(label) for label, _youngest, _oldest in selectors.BACKLOG_BUCKETS],
        series=[(_("Open cases"), report.backlog_total.buckets)],
        height=220,
    )
    sla_chart = charts.bar_chart(
        title=_("SLA targets met by month opened"),
        description=_(
            "Of the cases opened in each month whose target was met or breached, the share that met it, in %."
        ),
        labels=[line.label for line in report.by_month],
        series=[
            (_("First response met %"), [line.first_response_compliance for line in report.by_month]),
            (_("Resolution met %"), [line.resolution_compliance for line in report.by_month]),
        ],
    )
    csat_chart = charts.line_chart(
        title=_("Average satisfaction by month"),
        description=_("Average customer rating (1–5) of the scores given in each month."),
        labels=[line.label for line in report.csat_by_month],
        values=[line.average for line in report.csat_by_month],
        suffix="",
    )
    context = {
        "scope": scope,
        "report": "service",
        "status": status,
        "service": report,
        "buckets": [label for label, _youngest, _oldest in selectors.BACKLOG_BUCKETS],
        "months": scope.months(),
        "backlog_chart": backlog_chart,
        "sla_chart": sla_chart,
        "csat_chart": csat_chart,
        "csv_url": f"{reverse('reports:service-csv')}?{scope.query()}",
    }
    return render(request, "reports/service.html", context)


@require_GET
def service_csv(request: HttpRequest) -> HttpResponse:
    _scope, _status, report = _service(request)
    header = [_("Section"), _("Queue"), _("Group")]
    header += [str(label) for label, _youngest, _oldest in selectors.BACKLOG_BUCKETS] + [_("Open cases")]
    header += [_("Cases opened"), _("First response met"), _("First response breached"), _("First response met %")]
    header += [_("Resolution met"), _("Resolution breached"), _("Resolution met %")]
    header += [_("Average first response (business hours)"), _("Average resolution (business hours)")]
    header += [_("Ratings"), _("Average satisfaction"), _("Low ratings (1–2)")]
    blank_backlog = [""] * (len(selectors.BACKLOG_BUCKETS) + 1)
    blank_sla = [""] * 9
    rows: list[list[object]] = []
    for line in [*report.backlog, report.backlog_total]:
        rows.append([_("Backlog"), line.label, "", *line.buckets, line.total, *blank_sla, "", "", ""])

    def sla(section: str, queue: str, group: str, line: selectors.SlaLine) -> list[object]:
        return [
            section,
            queue,
            group,
            *blank_backlog,
            line.cases,
            line.first_response_met,
            line.first_response_breached,
            line.first_response_compliance,
            line.resolution_met,
            line.resolution_breached,
            line.resolution_compliance,
            line.first_response_hours,
            line.resolution_hours,
            "",
            "",
            "",
        ]

    rows += [sla(_("SLA by queue"), line.label, "", line) for line in [*report.by_team, report.total]]
    rows += [sla(_("SLA by priority"), "", line.label, line) for line in report.by_priority]
    rows += [sla(_("SLA by month opened"), "", line.label, line) for line in report.by_month]
    for row in report.csat:
        for month, line in zip(report.csat_by_month, row.months, strict=True):
            if line.ratings:
                rows.append(
                    [_("Satisfaction"), row.team.label, month.label, *blank_backlog, *blank_sla]
                    + [line.ratings, line.average, line.low]
                )
    total = report.csat_total
    rows.append(
        [_("Satisfaction"), total.label, "", *blank_backlog, *blank_sla, total.ratings, total.average, total.low]
    )
    return csv_response("service.csv", header, rows, request=request)


def _queue_for_managers(request: HttpRequest, task: Any, message: str, fallback: str) -> HttpResponse:
    """Managers and admins queue a recompute (through the outbox) and go back to the page they were on."""
    if not (request.user.is_admin or request.user.is_manager):
        raise PermissionDenied
    with transaction.atomic():
        outbox_enqueue(task=task.name)  # rebuilds and recomputes are idempotent
    messages.success(request, message)
    return redirect(safe_next(request, reverse(fallback)))


@require_POST
def rebuild(request: HttpRequest) -> HttpResponse:
    return _queue_for_managers(
        request,
        tasks.rebuild_rollups,
        _("Rebuild queued. The figures switch over when it finishes."),
        "reports:index",
    )


@require_POST
def subscription_toggle(request: HttpRequest, team_id: int) -> HttpResponse:
    if not request.user.is_manager:
        raise PermissionDenied
    team = request.user.managed_teams.filter(pk=team_id).first()
    if team is None:
        raise Http404("No such team.")
    if services.report_subscription_toggle(user=request.user, team=team):
        messages.success(request, _("You will get the weekly report for %(team)s by email.") % {"team": team})
    else:
        messages.success(request, _("Weekly report for %(team)s cancelled.") % {"team": team})
    return redirect(f"{reverse('reports:funnel')}?team={team.pk}")


# Customer value and retention ------------------------------------------------------------

PAGE_SIZES = (10, 25, 50, 100)


def _value_scope(request: HttpRequest) -> ReportScope:
    return report_scope_for_user(request.user, request.GET)


def _value_context(request: HttpRequest, scope: ReportScope, report: str, **extra: Any) -> dict[str, Any]:
    return {
        "scope": scope,
        "report": report,
        "run": selectors.value_run(),
        "base_currency": settings.BASE_CURRENCY,
        "csv_url": f"{reverse(f'reports:{report}-csv')}?{scope.query()}",
        "list_query": _company_list_query(scope),
        "settings_dormant_days": settings.DORMANT_DAYS,
        "settings_window_months": settings.RFM_WINDOW_MONTHS,
        **extra,
    }


def _company_list_query(scope: ReportScope) -> str:
    """The scope's owner/team filter for links to the company list (which filters the same way)."""
    if scope.owner is not None:
        return f"owner={scope.owner.pk}&"
    if scope.team is not None:
        return f"team={scope.team.id}&"
    if scope.allowed_owner_ids is not None and len(scope.allowed_owner_ids) == 1:
        return f"owner={scope.user.pk}&"
    return ""


class _CountedPaginator(Paginator):
    """A paginator told the total (from the per-owner summary) instead of running COUNT(*)."""

    def __init__(self, object_list, per_page: int, *, total: int) -> None:
        super().__init__(object_list, per_page)
        self.total = total

    @property
    def count(self) -> int:  # type: ignore[override]
        return self.total


def _page(request: HttpRequest, qs, *, total: int) -> tuple[Page, int]:
    size = optional_int(request.GET, "n", default=PAGE_SIZES[0])
    size = size if size in PAGE_SIZES else PAGE_SIZES[0]
    return _CountedPaginator(qs, size, total=total).get_page(request.GET.get("page")), size


@require_GET
def customer_value(request: HttpRequest) -> HttpResponse:
    scope = _value_scope(request)
    report = selectors.segment_report(scope)
    chart = charts.bar_chart(
        title=_("Customers and revenue by segment"),
        description=_("Each RFM segment's share of scored customers and of their revenue in the RFM window, in %."),
        labels=[line.label for line in report.lines],
        series=[
            (_("Share of customers %"), [line.customer_share for line in report.lines]),
            (_("Share of revenue %"), [line.revenue_share for line in report.lines]),
        ],
    )
    context = _value_context(request, scope, "customer-value", segments=report, chart=chart)
    return render(request, "reports/customer_value.html", context)


@require_GET
def customer_value_csv(request: HttpRequest) -> HttpResponse:
    report = selectors.segment_report(_value_scope(request))
    header = [_("Segment"), _("Customers"), _("Share of customers %"), _("Revenue in window"), _("Share of revenue %")]
    header.append(_("Lifetime value"))
    rows = [
        [line.label, line.customers, line.customer_share, line.revenue, line.revenue_share, line.lifetime_value]
        for line in report.lines
    ]
    return csv_response("customer-segments.csv", header, rows, request=request)


def _segment_param(request: HttpRequest) -> str:
    return parse_choice(request.GET.get("segment"), ValueSegment.values, name="segment", default="")


@require_GET
def top_customers(request: HttpRequest) -> HttpResponse:
    scope = _value_scope(request)
    segment = _segment_param(request)
    total = selectors.customers_in_scope(scope, segment=segment or None)
    page, size = _page(request, selectors.top_customers(scope, segment=segment), total=total)
    rows = list(page.object_list)
    suggestions = selectors.first_suggestions([row.company_id for row in rows])
    for row in rows:
        row.suggestion = suggestions.get(row.company_id)
    chart = charts.bar_chart(
        title=_("Lifetime value of the customers on this page"),
        description=_("Estimated lifetime value of each customer listed below, in %(currency)s.")
        % {"currency": settings.BASE_CURRENCY},
        labels=[f"#{rank}" for rank in range(page.start_index(), page.start_index() + len(rows[:10]))],
        series=[(_("Lifetime value"), [row.lifetime_value for row in rows[:10]])],
        height=220,
    )
    context = _value_context(
        request,
        scope,
        "top-customers",
        page=page,
        rows=rows,
        size=size,
        sizes=PAGE_SIZES,
        segment=segment,
        segments=ValueSegment.choices,
        at_risk=AT_RISK_SEGMENTS,
        chart=chart,
    )
    context["csv_url"] += f"&n={size}&page={page.number}" + (f"&segment={segment}" if segment else "")
    return render(request, "reports/top_customers.html", context)


@require_GET
def top_customers_csv(request: HttpRequest) -> HttpResponse:
    scope = _value_scope(request)
    segment = _segment_param(request)
    total = selectors.customers_in_scope(scope, segment=segment or None)
    page, _size = _page(request, selectors.top_customers(scope, segment=segment), total=total)
    rows = list(page.object_list)
    suggestions = selectors.first_suggestions([row.company_id for row in rows])
    header = [_("Rank"), _("Company"), _("Owner"), _("Segment"), _("R"), _("F"), _("M"), _("Lifetime value")]
    header += [_("Revenue, all time"), _("Revenue, last 12 months"), _("Won deals"), _("Last purchase")]
    header += [_("Open pipeline"), _("Suggested offer"), _("Why"), _("Service trouble")]
    data = []
    for rank, row in enumerate(rows, start=page.start_index()):
        suggestion = suggestions.get(row.company_id)
        data.append(
            [
                rank,
                row.company.name,
                str(row.owner),
                row.get_segment_display(),
                row.r_score,
                row.f_score,
                row.m_score,
                row.lifetime_value,
                row.revenue_total,
                row.revenue_12m,
                row.won_deals,
                row.last_won_on,
                row.open_pipeline,
                suggestion.product.name if suggestion else "",
                suggestion.reason if suggestion else "",
                row.service_reason if row.service_risk else "",
            ]
        )
    return csv_response("top-customers.csv", header, data, request=request)


def _cohort_scope(request: HttpRequest) -> ReportScope:
    scope = _value_scope(request)
    if not request.GET.get("from"):
        scope.start = add_months(scope.end, -(COHORT_MONTHS - 1))
    return scope


COHORT_MONTHS = 24


@require_GET
def cohorts(request: HttpRequest) -> HttpResponse:
    scope = _cohort_scope(request)
    report = selectors.cohort_report(scope)
    quarters = [f"Q{q}" for q in range(1, selectors.COHORT_QUARTERS + 1)]
    chart = charts.line_chart(
        title=_("Customers buying again, by quarter after the first purchase"),
        description=_("Share of the cohorts' customers with another won deal in each later quarter, all cohorts."),
        labels=quarters,
        values=report.average_share,
    )
    context = _value_context(request, scope, "cohorts", cohorts=report, quarters=quarters, chart=chart)
    return render(request, "reports/cohorts.html", context)


@require_GET
def cohorts_csv(request: HttpRequest) -> HttpResponse:
    report = selectors.cohort_report(_cohort_scope(request))
    header = [_("Cohort (first purchase)"), _("Customers"), _("First-month revenue")]
    for q in range(1, selectors.COHORT_QUARTERS + 1):
        header += [f"Q{q} %", f"Q{q} revenue retention %"]
    rows = []
    for row in report.rows:
        line: list[object] = [f"{row.month:%Y-%m}", row.size, row.first_revenue]
        for cell in row.cells:
            line += [cell.share, cell.revenue_retention]
        rows.append(line)
    return csv_response("cohorts.csv", header, rows, request=request)


@require_GET
def dormant(request: HttpRequest) -> HttpResponse:
    scope = _value_scope(request)
    buckets = selectors.dormant_buckets(scope)
    page, size = _page(request, selectors.dormant_customers(scope), total=sum(count for _l, count, _v in buckets))
    rows = list(page.object_list)
    followups = selectors.latest_followups([row.company_id for row in rows])
    now = timezone.now()
    for row in rows:
        row.follow_up = followups.get(row.company_id)
        row.quiet_days = (now - row.last_touch_at).days if row.last_touch_at else None
    chart = charts.bar_chart(
        title=_("Dormant customers by time since the last touch"),
        description=_("Number of dormant customers in your scope by how long they have been quiet."),
        labels=[label for label, _count, _value in buckets],
        series=[(_("Customers"), [count for _label, count, _value in buckets])],
        height=200,
    )
    context = _value_context(
        request, scope, "dormant", page=page, rows=rows, size=size, sizes=PAGE_SIZES, chart=chart, buckets=buckets
    )
    context["csv_url"] += f"&n={size}&page={page.number}"
    return render(request, "reports/dormant.html", context)


@require_GET
def dormant_csv(request: HttpRequest) -> HttpResponse:
    scope = _value_scope(request)
    rows = selectors.dormant_customers(scope)[:10000]
    header = [_("Company"), _("Owner"), _("Segment"), _("Last touch"), _("Last purchase"), _("Lifetime value")]
    data = [
        [
            row.company.name,
            str(row.owner),
            row.get_segment_display(),
            f"{timezone.localtime(row.last_touch_at):%Y-%m-%d}" if row.last_touch_at else "",
            row.last_won_on,
            row.lifetime_value,
        ]
        for row in rows
    ]
    return csv_response("dormant-customers.csv", header, data, request=request)


@require_GET
def cross_sell(request: HttpRequest) -> HttpResponse:
    scope = _value_scope(request)
    report = selectors.cross_sell_report(scope)
    top = report.rules[:10]
    chart = charts.bar_chart(
        title=_("Strongest product pairs"),
        description=_(
            "Confidence of the ten rules with the highest lift: of the customers who bought the first "
            "product, the share who also bought the second, in %."
        ),
        labels=[f"#{rank}" for rank in range(1, len(top) + 1)],
        series=[(_("Confidence %"), [rule.confidence for rule in top])],
        height=220,
    )
    context = _value_context(request, scope, "cross-sell", cross_sell=report, chart=chart)
    return render(request, "reports/cross_sell.html", context)


@require_GET
def cross_sell_csv(request: HttpRequest) -> HttpResponse:
    report = selectors.cross_sell_report(_value_scope(request), limit=10000)
    header = [_("Bought"), _("Also bought"), _("Customers with both"), _("Support %"), _("Confidence %"), _("Lift")]
    rows = [
        [rule.antecedent, rule.consequent, rule.both, rule.support, rule.confidence, rule.lift] for rule in report.rules
    ]
    return csv_response("cross-sell.csv", header, rows, request=request)


@require_POST
def value_recompute(request: HttpRequest) -> HttpResponse:
    return _queue_for_managers(
        request,
        tasks.recompute_customer_value,
        _("Recompute queued. The figures switch over when it finishes."),
        "reports:customer-value",
    )


# Report builder ------------------------------------------------------------------------------


def _builder_chart(result: builder.ReportResult) -> charts.Chart | None:
    """The chart the spec asks for, or None (table only, or nothing to draw)."""
    spec, rows = result.spec, result.rows
    if spec.chart == "table" or not rows:
        return None
    dims = result.dims
    labels = [row.label for row in rows]
    description = _("%(measure)s of %(dataset)s by %(dims)s; the same figures are in the table below.") % {
        "measure": result.measure.label,
        "dataset": result.dataset.label,
        "dims": " × ".join(str(d.label) for d in dims),
    }
    title = result.title
    suffix = "%" if result.measure.kind == "percent" else ""
    if len(dims) == 1 or spec.chart == "pie":
        values = [row.total.value for row in rows]
        if spec.chart == "pie":
            # Two dimensions: the slices are the first dimension's totals.
            return charts.pie_chart(title=title, description=description, slices=list(zip(labels, values, strict=True)))
        if spec.chart == "line":
            return charts.multi_line_chart(
                title=title,
                description=description,
                labels=labels,
                series=[(str(result.measure.label), values)],
                suffix=suffix,
            )
        return charts.bar_chart(
            title=title, description=description, labels=labels, series=[(str(result.measure.label), values)]
        )
    series = [(label, [row.cells[i].value for row in rows]) for i, (_key, label) in enumerate(result.columns)]
    if spec.chart == "stacked":
        return charts.stacked_bar_chart(title=title, description=description, labels=labels, series=series)
    if spec.chart == "line":
        return charts.multi_line_chart(
            title=title, description=description, labels=labels, series=series, suffix=suffix
        )
    return charts.bar_chart(title=title, description=description, labels=labels, series=series)


def _run_builder(request: HttpRequest, params: Any) -> tuple[builder.ReportSpec, ReportScope, builder.ReportResult]:
    spec = builder.parse_spec(params)
    scope = builder.scope_for(request.user, params)
    return spec, scope, builder.run_report(spec, scope)


def _builder_context(request: HttpRequest, spec: builder.ReportSpec, scope: ReportScope, result: Any) -> dict:
    dataset = builder.DATASETS[spec.dataset]
    query = spec.params(scope).urlencode()
    return {
        "spec": spec,
        "scope": scope,
        "result": result,
        "chart": None if result.too_broad else _builder_chart(result),
        "dataset": dataset,
        "datasets": list(builder.DATASETS.values()),
        "dimension_choices": builder.dimension_choices(dataset),
        "measures": dataset.measures,
        "dates": dataset.dates,
        "charts": [
            ("bar", _("Bars")),
            ("stacked", _("Stacked bars")),
            ("line", _("Line")),
            ("pie", _("Pie")),
            ("table", _("Table only")),
        ],
        "statuses": builder.STATUS_FILTERS.get(spec.dataset, []),
        "sources": list(Source.choices) if spec.dataset in builder.SOURCE_FILTER_DATASETS else [],
        "report_query": query,
        "csv_url": f"{reverse('reports:builder-export')}?{query}&format=csv",
        "xlsx_url": f"{reverse('reports:builder-export')}?{query}&format=xlsx",
        "base_currency": settings.BASE_CURRENCY,
        "status": builder.scope_rollup_status(scope) if spec.dataset == "deals" else None,
    }


@require_GET
def report_builder(request: HttpRequest) -> HttpResponse:
    spec, scope, result = _run_builder(request, request.GET)
    context = _builder_context(request, spec, scope, result)
    editing = None
    report_id = optional_int(request.GET, "report")
    if report_id is not None:
        editing = saved_report_for_user(request.user, report_id, write=True)
    context["editing"] = editing
    context["save_form"] = SavedReportForm(
        user=request.user, initial={"name": editing.name, "team": editing.team_id} if editing else None
    )
    return render(request, "reports/builder.html", context)


@require_GET
def report_builder_export(request: HttpRequest) -> HttpResponse:
    spec, scope, result = _run_builder(request, request.GET)
    if result.too_broad:
        messages.error(request, result.too_broad)
        return redirect(f"{reverse('reports:builder')}?{spec.params(scope).urlencode()}")
    header, rows = builder.export_rows(result)
    fmt = parse_choice(request.GET.get("format"), ("csv", "xlsx"), name="format", default="csv")
    name = f"report-{spec.dataset}"
    if fmt == "xlsx":
        return xlsx_response(f"{name}.xlsx", header, rows, request=request, title=str(result.dataset.label))
    return csv_response(f"{name}.csv", header, rows, request=request)


def _spec_from_post(request: HttpRequest) -> tuple[builder.ReportSpec, ReportScope]:
    """The report posted with the save form, whose own ``team`` field is who it is shared
    with: the report's team/owner filters come as ``scope_team``/``scope_owner``."""
    spec = builder.parse_spec(request.POST)
    params = QueryDict(mutable=True)
    for name, target in (("scope_team", "team"), ("scope_owner", "owner"), ("pipeline", "pipeline")):
        if request.POST.get(name):
            params[target] = request.POST[name]
    return spec, builder.scope_for(request.user, params)


@require_POST
def saved_report_save(request: HttpRequest) -> HttpResponse:
    """Save the builder's report as new, or (``report`` given) update the user's own one."""
    spec, scope = _spec_from_post(request)
    form = SavedReportForm(request.POST, user=request.user)
    report_id = optional_int(request.POST, "report")
    editing = saved_report_for_user(request.user, report_id, write=True) if report_id is not None else None
    if not form.is_valid():
        result = builder.run_report(spec, scope)
        context = _builder_context(request, spec, scope, result) | {"save_form": form, "editing": editing}
        return render(request, "reports/builder.html", context, status=400)
    data = dict(spec.params(scope).lists())
    if editing is not None:
        report = services.saved_report_update(
            report=editing, name=form.cleaned_data["name"], spec=data, team=form.cleaned_data["team"]
        )
    else:
        report = services.saved_report_create(
            owner=request.user, name=form.cleaned_data["name"], spec=data, team=form.cleaned_data["team"]
        )
    messages.success(request, _("Report “%(name)s” saved.") % {"name": report.name})
    return redirect(report)


@require_GET
def saved_report_list(request: HttpRequest) -> HttpResponse:
    reports = list(saved_reports_visible_to(request.user).order_by("name", "id")[:200])
    return render(request, "reports/saved_list.html", {"reports": reports})


@require_GET
def saved_report(request: HttpRequest, pk: int) -> HttpResponse:
    report = saved_report_for_user(request.user, pk)
    spec = builder.spec_from_json(report.spec)
    scope = _viewer_scope(request.user, report.spec)
    result = builder.run_report(spec, scope)
    context = _builder_context(request, spec, scope, result)
    context.update(
        report=report,
        can_edit=request.user.is_admin or report.owner_id == request.user.pk,
        subscribed=SavedReportSubscription.objects.filter(user=request.user, report=report).exists(),
        pin_form=PinForm(user=request.user),
        pinned_on=list(report.pins.select_related("dashboard").filter(dashboard__in=pinnable_dashboards(request.user))),
    )
    return render(request, "reports/saved_report.html", context)


def _viewer_scope(user: Any, stored: dict, cache: dict | None = None) -> ReportScope:
    """The stored team/owner filters when the viewer may use them; otherwise the viewer's own
    scope: a rep opening a manager's team report sees their own figures, never a 404.
    ``cache``: scopes already built for this request (a dashboard's cards share them)."""
    params = QueryDict(mutable=True)
    for key, values in stored.items():
        params.setlist(key, [str(v) for v in (values if isinstance(values, list) else [values])])
    key = tuple(params.get(name, "") for name in ("team", "owner", "pipeline"))
    if cache is not None and key in cache:
        return cache[key]
    try:
        scope = builder.scope_for(user, params)
    except Http404:
        scope = builder.scope_for(user, QueryDict())
    if cache is not None:
        cache[key] = scope
    return scope


@require_POST
def saved_report_delete(request: HttpRequest, pk: int) -> HttpResponse:
    report = saved_report_for_user(request.user, pk, write=True)
    services.saved_report_delete(report=report)
    messages.success(request, _("Report “%(name)s” deleted.") % {"name": report.name})
    return redirect("reports:saved-list")


@require_POST
def saved_report_subscribe(request: HttpRequest, pk: int) -> HttpResponse:
    report = saved_report_for_user(request.user, pk)
    if services.saved_report_subscription_toggle(user=request.user, report=report):
        messages.success(request, _("You will get this report by email every week."))
    else:
        messages.success(request, _("Weekly email of this report cancelled."))
    return redirect(report)


@require_POST
def saved_report_pin(request: HttpRequest, pk: int) -> HttpResponse:
    report = saved_report_for_user(request.user, pk)
    form = PinForm(request.POST, user=request.user)
    if not form.is_valid():
        raise Http404("No such dashboard.")
    dashboard = form.cleaned_data["dashboard"]
    if dashboard.team_id and report.team_id != dashboard.team_id and report.owner_id != request.user.pk:
        # Pinning shares the report with the team: only its owner may do that.
        messages.error(request, _("Only the report's owner can share it with another team."))
        return redirect(report)
    services.dashboard_pin(dashboard=dashboard, report=report, actor=request.user)
    messages.success(request, _("Pinned to “%(dashboard)s”.") % {"dashboard": dashboard.name})
    return redirect(dashboard)


# Dashboards ----------------------------------------------------------------------------------

DASHBOARD_MAX_ITEMS = 12


def _dashboard_cards(request: HttpRequest, dashboard: Any) -> list[dict]:
    """Each pinned item run for the viewer (their own scope): one card each."""
    cards = []
    for item in dashboard.items.select_related("report")[:DASHBOARD_MAX_ITEMS]:
        renderer = item_renderer(item.kind)
        if renderer is not None:
            cards.append(renderer(item, request))
    return cards


def _report_card(item: Any, request: HttpRequest) -> dict:
    report = item.report
    spec = builder.spec_from_json(report.spec)
    scopes = request.__dict__.setdefault("_builder_scopes", {})
    scope = _viewer_scope(request.user, report.spec, scopes)
    result = builder.run_report(spec, scope)
    return {
        "template": "reports/partials/report_card.html",
        "item": item,
        "report": report,
        "result": result,
        "chart": None if result.too_broad else _builder_chart(result),
        "id": f"item-{item.pk}",
    }


register_item_kind(DashboardItemKind.REPORT, _report_card)


@require_GET
def dashboard_list(request: HttpRequest) -> HttpResponse:
    dashboards = list(dashboards_visible_to(request.user).filter(Q(user=request.user) | Q(team__isnull=False)))
    return render(
        request,
        "reports/dashboard_list.html",
        {"dashboards": dashboards, "form": DashboardForm(user=request.user)},
    )


@require_POST
def dashboard_create(request: HttpRequest) -> HttpResponse:
    form = DashboardForm(request.POST, user=request.user)
    if not form.is_valid():
        dashboards = list(dashboards_visible_to(request.user).filter(Q(user=request.user) | Q(team__isnull=False)))
        return render(request, "reports/dashboard_list.html", {"dashboards": dashboards, "form": form}, status=400)
    team = form.cleaned_data.get("team")
    dashboard = services.dashboard_create(
        name=form.cleaned_data["name"], user=None if team else request.user, team=team
    )
    messages.success(request, _("Dashboard “%(name)s” created.") % {"name": dashboard.name})
    return redirect(dashboard)


@require_GET
def dashboard(request: HttpRequest, pk: int) -> HttpResponse:
    board = dashboard_for_user(request.user, pk)
    context = {
        "dashboard": board,
        "cards": _dashboard_cards(request, board),
        "can_set_default": board.team_id is not None and can_manage_team(request.user, board.team),
        "can_unpin": board.user_id == request.user.pk or can_manage_team(request.user, board.team),
        "base_currency": settings.BASE_CURRENCY,
    }
    return render(request, "reports/dashboard.html", context)


@require_POST
def dashboard_set_default(request: HttpRequest, pk: int) -> HttpResponse:
    board = dashboard_for_user(request.user, pk)
    if not can_manage_team(request.user, board.team):
        raise Http404("No such dashboard.")
    services.dashboard_set_team_default(dashboard=board)
    messages.success(
        request, _("“%(name)s” is now the default dashboard of %(team)s.") % {"name": board.name, "team": board.team}
    )
    return redirect(board)


@require_POST
def dashboard_unpin(request: HttpRequest, item_id: int) -> HttpResponse:
    item = DashboardItem.objects.select_related("dashboard").filter(pk=item_id).first()
    if item is None:
        raise Http404("No such item.")
    board = dashboard_for_user(request.user, item.dashboard_id)
    # A personal dashboard's owner, or for a team dashboard its managers and whoever pinned it.
    if board.team_id and not (can_manage_team(request.user, board.team) or item.added_by_id == request.user.pk):
        raise Http404("No such item.")
    services.dashboard_unpin(item=item)
    messages.success(request, _("Removed from the dashboard."))
    return redirect(board)


# Profitability ---------------------------------------------------------------------------


def _profit_period(request: HttpRequest) -> str:
    return parse_choice(
        request.GET.get("period"), ProfitPeriod.values, name="period", default=ProfitPeriod.LAST_12_MONTHS
    )


@require_GET
def profitability(request: HttpRequest) -> HttpResponse:
    scope = _value_scope(request)
    period = _profit_period(request)
    report = selectors.profitability_report(scope, period=period)
    chart = None
    if report.curve:
        chart = charts.whale_chart(
            title=_("Whale curve: cumulative profit by customers ranked by profitability"),
            description=_(
                "Customers ranked from the most to the least profitable (x, share of customers in %%) against "
                "their cumulative profit as a share of the total profit (y, %%). The top reaches %(peak)s %% "
                "with %(share)s %% of the customers; the rest give %(lost)s %% of it away."
            )
            % {
                "peak": report.peak_percent,
                "share": report.peak_customers_percent,
                "lost": round(report.peak_percent - 100, 1) if report.peak_percent is not None else 0,
            },
            points=report.curve,
        )
    context = _value_context(
        request,
        scope,
        "profitability",
        profits=report,
        chart=chart,
        period=period,
        periods=ProfitPeriod.choices,
        advice=PROFIT_GROUP_ADVICE,
        groups=ProfitGroup,
        rfm_monetary=settings.RFM_MONETARY,
        growth_min_percent=GROWTH_MIN_PROFIT_PERCENT,
    )
    context["csv_url"] += f"&period={period}"
    context["xlsx_url"] = f"{reverse('reports:profitability-xlsx')}?{scope.query()}&period={period}"
    return render(request, "reports/profitability.html", context)


def _profitability_export(request: HttpRequest) -> tuple[list[str], object, str]:
    scope = _value_scope(request)
    period = _profit_period(request)
    header = [_("Rank by profit"), _("Company"), _("Owner"), _("Revenue"), _("Cost of sales"), _("of which estimated")]
    header += [_("Gross margin"), _("Gross margin %"), _("Hours spent"), _("Cost of activities"), _("Cost of cases")]
    header += [_("Costs from other systems"), _("Cost to serve"), _("Acquisition cost"), _("Profit"), _("Profit %")]
    header += [_("Group"), _("Suggested action")]
    rows = selectors.customer_profits(scope, period=period).select_related("company", "owner").iterator(chunk_size=2000)

    def lines():
        for row in rows:
            yield [
                row.profit_rank,
                row.company.name,
                str(row.owner),
                row.revenue,
                row.cost_of_sales,
                row.estimated_cost,
                row.gross_margin,
                row.margin_percent,
                row.service_hours,
                row.activity_cost,
                row.case_cost,
                row.external_cost,
                row.service_cost,
                row.acquisition_cost,
                row.profit,
                row.profit_percent,
                row.get_group_display(),
                str(PROFIT_GROUP_ADVICE.get(row.group, "")),
            ]

    return header, lines(), f"customer-profitability-{period}"


@require_GET
def profitability_csv(request: HttpRequest) -> HttpResponse:
    header, rows, name = _profitability_export(request)
    return csv_streaming_response(f"{name}.csv", header, rows, request=request)


@require_GET
def profitability_xlsx(request: HttpRequest) -> HttpResponse:
    header, rows, name = _profitability_export(request)
    return xlsx_response(f"{name}.xlsx", header, rows, request=request, title=_("Profitability"))
