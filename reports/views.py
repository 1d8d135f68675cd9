from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from contacts.models import Source, ValueSegment
from crm.exports import csv_response, csv_streaming_response, xlsx_response
from crm.params import optional_int, parse_choice, safe_next
from crm.services import outbox_enqueue
from reports import charts, selectors, services, tasks
from reports.models import ProfitGroup, ProfitPeriod
from reports.scope import ReportScope, add_months, report_scope_for_user
from reports.value import AT_RISK_SEGMENTS, PROFIT_GROUP_ADVICE


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
    return render(
        request,
        "reports/index.html",
        {"status": selectors.rollup_status(), "can_rebuild": request.user.is_admin or request.user.is_manager},
    )


def _funnel(request: HttpRequest) -> tuple[ReportScope, selectors.RollupStatus, selectors.FunnelReport]:
    scope = report_scope_for_user(request.user, request.GET, require_pipeline=True)
    status = selectors.rollup_status()
    return scope, status, selectors.funnel_report(scope, status.generation_id)


@require_GET
def funnel(request: HttpRequest) -> HttpResponse:
    scope, status, report = _funnel(request)
    chart = charts.funnel_chart(
        title=_("Sales funnel: deals entering each stage"),
        description=_("Deals of %(pipeline)s that entered each stage from %(start)s to %(end)s.")
        % {"pipeline": scope.pipeline or "", "start": f"{scope.start:%Y-%m}", "end": f"{scope.end:%Y-%m}"},
        steps=[
            (row.stage.name, row.entered, f"({row.of_top:g}%)" if row.of_top is not None else "") for row in report.rows
        ],
    )
    subscribed = selectors.subscribed_team_ids(request.user) if request.user.is_manager else set()
    context = _context(request, scope, "funnel", status=status, funnel=report, chart=chart, subscribed=subscribed)
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


def _activity(request: HttpRequest) -> tuple[ReportScope, selectors.RollupStatus, selectors.ActivityReport]:
    scope = report_scope_for_user(request.user, request.GET)
    status = selectors.rollup_status()
    return scope, status, selectors.activity_report(scope, status.generation_id)


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
    _scope, _status, report = _activity(request)
    header = [_("Week"), _("Owner"), _("Calls"), _("Meetings"), _("Tasks done")]
    rows = [
        [f"{cell.key[0]:%Y-%m-%d}", cell.label, cell.calls, cell.meetings, cell.tasks_done] for cell in report.cells
    ]
    rows += [[_("Overdue tasks now"), line.label, "", "", line.overdue] for line in report.leaderboard if line.overdue]
    return csv_response("activity.csv", header, rows, request=request)


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
    header += [_("Open pipeline"), _("Suggested offer"), _("Why")]
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
