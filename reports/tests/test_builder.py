"""The report builder, saved reports, dashboards and their guard rails, with the persona matrix.

``hand_data`` (reports/tests/conftest.py): owner won A (1000, referral, Jan 20) and lost B (600,
website) and D (300, website); teammate's C is open (2000); outsider (team South) won E (9999,
no source). The manager manages North (owner and teammate).
"""

import csv
import io
from decimal import Decimal

import pytest
from django.core import mail
from django.db.models import CharField
from django.db.models.expressions import RawSQL
from django.urls import reverse
from openpyxl import load_workbook

from reports import builder
from reports.models import Dashboard, DashboardItem, SavedReport, SavedReportSubscription
from reports.services import rollups_rebuild, saved_report_subscription_send

WON_BY_SOURCE = {
    "dataset": "deals",
    "dim1": "source",
    "measure": "sum_amount_base",
    "status": "won",
    "date": "closed",
    "date_from": "2026-01-01",
    "date_to": "2026-03-31",
}


@pytest.fixture
def built(hand_data):
    rollups_rebuild()
    return hand_data


def _table(response) -> dict[str, dict]:
    """The result rows by label: {label: {"total": value, "url": drill url}}."""
    result = response.context["result"]
    assert not result.too_broad, result.too_broad
    return {row.label: {"total": row.total.value, "url": row.total.url, "cells": row.cells} for row in result.rows}


def _get(client, **params):
    return client.get(reverse("reports:builder"), params)


def test_won_revenue_by_source_counts_only_what_each_persona_may_see(
    built, owner_client, teammate_client, outsider_client, manager_client, admin_client
):
    assert _table(_get(owner_client, **WON_BY_SOURCE)).keys() == {"Referral"}
    assert _table(_get(owner_client, **WON_BY_SOURCE))["Referral"]["total"] == Decimal("1000.00")
    assert _table(_get(teammate_client, **WON_BY_SOURCE)) == {}
    assert {k: v["total"] for k, v in _table(_get(outsider_client, **WON_BY_SOURCE)).items()} == {
        "Not set": Decimal("9999.00")
    }
    assert {k: v["total"] for k, v in _table(_get(manager_client, **WON_BY_SOURCE)).items()} == {
        "Referral": Decimal("1000.00")
    }
    assert {k: v["total"] for k, v in _table(_get(admin_client, **WON_BY_SOURCE)).items()} == {
        "Referral": Decimal("1000.00"),
        "Not set": Decimal("9999.00"),
    }


def test_win_rate_and_conversion_follow_the_definitions(built, manager_client):
    params = {"dataset": "deals", "dim1": "owner", "date": "created", "date_from": "2025-12-01"}
    rate = {k: v["total"] for k, v in _table(_get(manager_client, measure="win_rate", **params)).items()}
    # Owner: A won, B and D lost → 1 / 3; the teammate's C is open: no closed deal, no rate.
    assert round(rate["Olga Owner"], 1) == Decimal("33.3")
    assert rate["Tom Teammate"] is None
    conversion = {k: v["total"] for k, v in _table(_get(manager_client, measure="conversion", **params)).items()}
    assert round(conversion["Olga Owner"], 1) == Decimal("33.3")
    assert conversion["Tom Teammate"] == 0
    count = {k: v["total"] for k, v in _table(_get(manager_client, measure="count", **params)).items()}
    assert count == {"Olga Owner": 3, "Tom Teammate": 1}


def test_a_rate_has_no_row_total_but_a_sum_does(built, manager_client):
    params = {"dataset": "deals", "dim1": "owner", "dim2": "status", "date": "created", "date_from": "2025-12-01"}
    rates = _get(manager_client, measure="win_rate", **params).context["result"]
    assert all(row.total.value is None for row in rates.rows)  # an average of rates would lie
    sums = _get(manager_client, measure="sum_amount_base", **params).context["result"]
    owner_row = next(row for row in sums.rows if row.label == "Olga Owner")
    assert owner_row.total.value == Decimal("1900.00")  # 1000 + 600 + 300
    assert [label for _key, label in sums.columns] == ["Lost", "Open", "Won"]


def test_a_rep_cannot_name_a_teammate_or_a_team_in_the_url(built, teammate, north, outsider, owner_client):
    assert _get(owner_client, owner=teammate.pk, **WON_BY_SOURCE).status_code == 404
    assert _get(owner_client, team=north.pk, **WON_BY_SOURCE).status_code == 404
    assert _get(owner_client, owner=outsider.pk, **WON_BY_SOURCE).status_code == 404


def test_a_manager_narrows_to_a_team_but_not_another(built, north, south, manager_client):
    assert _table(_get(manager_client, team=north.pk, **WON_BY_SOURCE)).keys() == {"Referral"}
    assert _get(manager_client, team=south.pk, **WON_BY_SOURCE).status_code == 404


@pytest.mark.parametrize(
    "params",
    [
        {"dim1": "owner; DROP TABLE deals_deal"},
        {"measure": "sum_title"},
        {"dataset": "auth_user"},
        {"dim2": "amount"},
        {"chart": "3d"},
        {"date_from": "2026-13-01"},
        {"date": "updated_at"},
    ],
)
def test_anything_outside_the_whitelists_is_a_400(built, manager_client, params):
    assert _get(manager_client, **{"dataset": "deals", **params}).status_code == 400


def test_every_dataset_dimension_and_chart_opens(built, admin_client, manager_client):
    for key, dataset in builder.DATASETS.items():
        for dim, _label in builder.dimension_choices(dataset):
            for client in (admin_client, manager_client):
                response = _get(client, dataset=key, dim1=dim, dim2="month", chart="stacked")
                assert response.status_code == 200, (key, dim)
                assert not response.context["result"].too_broad
        for measure in dataset.measures:
            assert _get(admin_client, dataset=key, dim1="owner", measure=measure.key).status_code == 200
    for chart in builder.CHARTS:
        html = _get(manager_client, chart=chart, dim1="owner", dim2="status", **{"dataset": "deals"}).content.decode()
        if chart != "table":
            assert 'role="img"' in html and "<title id=" in html and "<desc id=" in html
        assert "<table" in html


@pytest.fixture
def slow_dimension():
    """A dimension whose every row sleeps: the real statement timeout must cancel it."""
    dim = builder.Dimension("slow", "Slow", RawSQL("pg_sleep(0.2)::text", [], output_field=CharField()))
    provider = lambda: [dim]  # noqa: E731
    builder.register_dimension_provider("deals", provider)
    yield dim
    builder._DIMENSION_PROVIDERS["deals"].remove(provider)


def test_a_report_over_the_time_limit_asks_to_narrow_the_dates(built, slow_dimension, settings, admin_client):
    settings.REPORT_BUILDER_TIMEOUT_MS = 100
    response = _get(admin_client, dataset="deals", dim1="slow")
    assert response.status_code == 200
    assert "Narrow the dates" in response.content.decode()
    # The connection is usable afterwards (the timeout was local to the rolled-back transaction).
    assert _get(admin_client, **WON_BY_SOURCE).status_code == 200
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] != "100ms"


def test_a_report_with_too_many_groups_says_so(built, settings, admin_client):
    settings.REPORT_BUILDER_MAX_GROUPS = 1
    response = _get(admin_client, dataset="deals", dim1="owner")
    assert "too many to read" in response.content.decode()
    export = admin_client.get(reverse("reports:builder-export"), {"dataset": "deals", "dim1": "owner"})
    assert export.status_code == 302


def test_a_cell_opens_exactly_its_deals(built, manager_client):
    hand = built["deals"]
    url = _table(_get(manager_client, **WON_BY_SOURCE))["Referral"]["url"]
    assert url.startswith(reverse("deals:list"))
    assert "source=referral" in url and "status=won" in url and "closed_from=2026-01-01" in url
    deals = list(manager_client.get(url).context["page"].object_list)
    assert [d.pk for d in deals] == [hand["A"].pk]


def test_a_quarter_cell_carries_the_quarters_days(built, owner_client):
    response = _get(owner_client, dim2="quarter", **WON_BY_SOURCE)
    cell = _table(response)["Referral"]["cells"][0]
    assert "closed_from=2026-01-01" in cell.url and "closed_to=2026-03-31" in cell.url
    assert "owner=" in cell.url  # a rep's report counts only their own deals; so does the list


def test_export_csv_and_xlsx(built, manager_client):
    params = {**WON_BY_SOURCE, "dim2": "quarter"}
    response = manager_client.get(reverse("reports:builder-export"), {**params, "format": "csv"})
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["Source", "2026 Q1", "Total"]
    assert rows[1] == ["Referral", "1000.00", "1000.00"]
    response = manager_client.get(reverse("reports:builder-export"), {**params, "format": "xlsx"})
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    assert [c.value for c in next(sheet.iter_rows())] == ["Source", "2026 Q1", "Total"]


def _save(client, *, name="Won by source", share="", **extra):
    data = {**WON_BY_SOURCE, "dim2": "quarter", "name": name, "team": share, **extra}
    return client.post(reverse("reports:saved-save"), data)


def test_a_manager_saves_a_team_report_that_each_reader_sees_in_their_own_scope(
    built, manager, north, manager_client, owner_client, teammate_client, outsider_client
):
    response = _save(manager_client, share=north.pk, scope_team=north.pk)
    report = SavedReport.objects.get()
    assert response["Location"] == report.get_absolute_url()
    assert report.owner == manager and report.team == north and report.spec["team"] == [str(north.pk)]
    assert report.spec["dim2"] == ["quarter"]
    assert _table(manager_client.get(report.get_absolute_url()))["Referral"]["total"] == Decimal("1000.00")
    # The owner (a North rep) opens it: their own numbers, no 404 for the manager's team filter.
    assert _table(owner_client.get(report.get_absolute_url()))["Referral"]["total"] == Decimal("1000.00")
    assert _table(teammate_client.get(report.get_absolute_url())) == {}
    assert outsider_client.get(report.get_absolute_url()).status_code == 404


def test_a_private_report_is_its_owners_alone(built, manager_client, owner_client):
    _save(manager_client)
    report = SavedReport.objects.get()
    assert report.team is None
    assert owner_client.get(report.get_absolute_url()).status_code == 404
    assert owner_client.post(reverse("reports:saved-delete", args=[report.pk])).status_code == 404


def test_a_save_without_a_name_shows_the_field_error(built, manager_client):
    response = _save(manager_client, name="  ")
    assert response.status_code == 400
    assert "This field is required." in response.content.decode() or "Give the report a name." in (
        response.content.decode()
    )
    assert not SavedReport.objects.exists()


def test_only_the_owner_edits_a_shared_report(built, north, manager_client, owner_client):
    _save(manager_client, share=north.pk)
    report = SavedReport.objects.get()
    assert owner_client.post(reverse("reports:saved-delete", args=[report.pk])).status_code == 404
    response = _save(owner_client, name="Hijack", report=report.pk)
    assert response.status_code == 404
    _save(manager_client, name="Renamed", share=north.pk, report=report.pk)
    report.refresh_from_db()
    assert report.name == "Renamed"


def test_pin_to_the_team_dashboard_and_make_it_the_default(
    built, manager, north, manager_client, owner_client, outsider_client
):
    _save(manager_client, name="Won revenue by source by quarter", scope_team=north.pk)
    report = SavedReport.objects.get()
    manager_client.post(reverse("reports:dashboard-create"), {"name": "North weekly", "team": north.pk})
    board = Dashboard.objects.get()
    assert board.team == north and board.user is None
    manager_client.post(reverse("reports:saved-pin", args=[report.pk]), {"dashboard": board.pk})
    report.refresh_from_db()
    assert report.team == north  # pinning to the team's dashboard shared it
    assert DashboardItem.objects.get().report == report
    manager_client.post(reverse("reports:dashboard-default", args=[board.pk]))
    board.refresh_from_db()
    assert board.is_team_default
    home = owner_client.get(reverse("reports:index"))
    assert "North weekly" in home.content.decode()
    assert "Won revenue by source by quarter" in home.content.decode()
    card = owner_client.get(board.get_absolute_url()).context["cards"][0]
    assert {row.label: row.total.value for row in card["result"].rows} == {"Referral": Decimal("1000.00")}
    assert "North weekly" not in outsider_client.get(reverse("reports:index")).content.decode()
    assert outsider_client.get(board.get_absolute_url()).status_code == 404


def test_a_rep_cannot_set_the_team_default_or_unpin_others(built, north, manager_client, owner_client):
    _save(manager_client, share=north.pk)
    manager_client.post(reverse("reports:dashboard-create"), {"name": "North", "team": north.pk})
    board = Dashboard.objects.get()
    manager_client.post(reverse("reports:saved-pin", args=[SavedReport.objects.get().pk]), {"dashboard": board.pk})
    assert owner_client.post(reverse("reports:dashboard-default", args=[board.pk])).status_code == 404
    item = DashboardItem.objects.get()
    assert owner_client.post(reverse("reports:dashboard-unpin", args=[item.pk])).status_code == 404
    assert DashboardItem.objects.exists()
    # A rep's new dashboard is their own, even when a team is posted.
    owner_client.post(reverse("reports:dashboard-create"), {"name": "Mine", "team": north.pk})
    mine = Dashboard.objects.get(name="Mine")
    assert mine.team is None and mine.user.username == "owner"


def test_a_rep_cannot_pin_to_another_users_dashboard(built, manager, north, manager_client, owner_client):
    _save(owner_client, name="Mine")
    manager_client.post(reverse("reports:dashboard-create"), {"name": "Manager's own"})
    board = Dashboard.objects.get()
    assert board.user == manager
    report = SavedReport.objects.get()
    assert owner_client.post(reverse("reports:saved-pin", args=[report.pk]), {"dashboard": board.pk}).status_code == 404
    assert not DashboardItem.objects.exists()


def test_the_weekly_email_runs_in_the_recipients_scope_and_language(built, north, owner, manager_client, owner_client):
    _save(manager_client, name="Won by source", share=north.pk, scope_team=north.pk)
    report = SavedReport.objects.get()
    owner.email, owner.language = "olga@example.com", "ru"
    owner.save()
    owner_client.post(reverse("reports:saved-subscribe", args=[report.pk]))
    subscription = SavedReportSubscription.objects.get()
    assert saved_report_subscription_send(subscription_id=subscription.pk) is True
    assert saved_report_subscription_send(subscription_id=subscription.pk) is False  # once a week
    message = mail.outbox[0]
    assert message.to == ["olga@example.com"]
    assert "Won by source" in message.subject
    assert "1\xa0000" in message.body  # Russian digit grouping: the recipient's language
    assert "Сумма" in message.body or "сумм" in message.body.lower()
    assert "9\xa0999" not in message.body
    assert report.get_absolute_url() in message.body


def test_a_recipient_who_lost_access_gets_nothing(built, north, owner, manager_client, owner_client):
    _save(manager_client, share=north.pk)
    report = SavedReport.objects.get()
    owner.email = "olga@example.com"
    owner.save()
    owner_client.post(reverse("reports:saved-subscribe", args=[report.pk]))
    north.members.remove(owner)
    assert saved_report_subscription_send(subscription_id=SavedReportSubscription.objects.get().pk) is False
    assert mail.outbox == []


def test_cases_count_only_the_queues_one_may_see(db, north, south, owner, outsider, owner_client):
    from service.tests.factories import make_case

    make_case(team=north, owner=owner)
    make_case(team=south, owner=outsider, subject="Other queue", contact_email="x@other.example")
    response = _get(owner_client, dataset="cases", dim1="team")
    assert {k: v["total"] for k, v in _table(response).items()} == {"North": 1}


def test_a_deals_report_reads_the_rollup_pointer_once(built, manager_client):
    """The facts' generation and the page's "as of" line come from one read of the pointer."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        response = _get(manager_client, dim1="stage", dim2="month", measure="win_rate", date="created")
    assert response.status_code == 200
    assert response.context["status"].generation_id is not None
    assert sum('"reports_rolluppointer"' in q["sql"] for q in queries.captured_queries) == 1


@pytest.mark.parametrize("who", ["owner_client", "manager_client", "admin_client"])
def test_builder_pages_issue_a_constant_number_of_queries(built, who, request, django_assert_max_num_queries):
    client = request.getfixturevalue(who)
    with django_assert_max_num_queries(14):
        assert _get(client, dim2="quarter", **WON_BY_SOURCE).status_code == 200
    with django_assert_max_num_queries(14):
        assert _get(client, dataset="companies", dim1="country", dim2="tag").status_code == 200


def test_a_dashboard_costs_a_few_queries_per_card(built, north, manager_client, django_assert_max_num_queries):
    manager_client.post(reverse("reports:dashboard-create"), {"name": "North", "team": north.pk})
    board = Dashboard.objects.get()
    for index in range(3):
        _save(manager_client, name=f"R{index}", share=north.pk)
    for report in SavedReport.objects.all():
        manager_client.post(reverse("reports:saved-pin", args=[report.pk]), {"dashboard": board.pk})
    # Once per page: the viewer's scope (teams, owners, pipelines) and the rollup pointer; per
    # card: the timeout, the grouped query (and, in a test's transaction, the timeout reset).
    with django_assert_max_num_queries(15 + 3 * 3):
        assert manager_client.get(board.get_absolute_url()).status_code == 200


def test_a_saved_report_page_issues_a_constant_number_of_queries(
    built, north, manager_client, owner_client, django_assert_max_num_queries
):
    _save(manager_client, share=north.pk, scope_team=north.pk)
    report = SavedReport.objects.get()
    for client in (manager_client, owner_client):
        with django_assert_max_num_queries(16):
            assert client.get(report.get_absolute_url()).status_code == 200


def test_a_cell_links_only_where_the_list_can_show_exactly_its_records(db, north, owner, manager, manager_client):
    from service.tests.factories import make_case

    make_case(team=north, owner=owner)
    # Cases by queue: the case list filters by queue, and by any status (not only active ones).
    result = _get(manager_client, dataset="cases", dim1="team").context["result"]
    assert "team=" in result.rows[0].total.url and "status=all" in result.rows[0].total.url
    # By assignee: the case list cannot filter by a person, so no link.
    result = _get(manager_client, dataset="cases", dim1="owner").context["result"]
    assert result.rows[0].total.url == ""
    # Activities by team: the activity list has no team filter.
    from activities.models import Activity, ActivityType

    kind = ActivityType.objects.first() or ActivityType.objects.create(name="Call", key="call")
    Activity.objects.create(type=kind, subject="Call", owner=owner, created_by=owner)
    result = _get(manager_client, dataset="activities", dim1="team").context["result"]
    assert result.rows and result.rows[0].total.url == ""
    result = _get(manager_client, dataset="activities", dim1="type").context["result"]
    assert result.rows[0].total.url.startswith(reverse("activities:list"))


def test_a_period_cell_is_cut_by_the_reports_own_dates(built, owner_client):
    params = {**WON_BY_SOURCE, "dim2": "quarter", "date_from": "2026-01-15"}
    cell = _table(_get(owner_client, **params))["Referral"]["cells"][0]
    assert "closed_from=2026-01-15" in cell.url and "closed_to=2026-03-31" in cell.url


def test_a_rep_pins_to_and_unpins_from_their_own_dashboard(built, owner_client, teammate_client):
    _save(owner_client, name="Mine")
    owner_client.post(reverse("reports:dashboard-create"), {"name": "My board"})
    board = Dashboard.objects.get()
    owner_client.post(reverse("reports:saved-pin", args=[SavedReport.objects.get().pk]), {"dashboard": board.pk})
    item = DashboardItem.objects.get()
    assert "Remove Mine from the dashboard" in owner_client.get(board.get_absolute_url()).content.decode()
    assert teammate_client.get(board.get_absolute_url()).status_code == 404
    assert teammate_client.post(reverse("reports:dashboard-unpin", args=[item.pk])).status_code == 404
    owner_client.post(reverse("reports:dashboard-unpin", args=[item.pk]))
    assert not DashboardItem.objects.exists()


@pytest.mark.parametrize(
    "params",
    [
        {"dim1": "source", "dim2": "quarter", "measure": "sum_amount_base", "status": "won"},
        {"dim1": "owner", "dim2": "status", "measure": "count"},
        {"dim1": "team", "dim2": "month", "measure": "win_rate"},
        {"dim1": "year", "measure": "conversion", "source": "website"},
    ],
)
def test_the_closed_cells_give_the_same_figures_as_the_facts(built, params, admin_user, monkeypatch):
    from django.db import connection
    from django.http import QueryDict
    from django.test.utils import CaptureQueriesContext

    query = QueryDict(mutable=True)
    query.update({"dataset": "deals", "date": "closed", "date_from": "2025-12-01", "date_to": "2026-02-28", **params})
    spec = builder.parse_spec(query)

    def figures():
        result = builder.run_report(spec, builder.scope_for(admin_user, QueryDict()))
        return [
            (row.label, row.total.value, [c.value for c in row.cells], [c.url for c in row.cells])
            for row in result.rows
        ]

    with CaptureQueriesContext(connection) as queries:
        from_cells = figures()
    assert any("reports_closedcell" in q["sql"] for q in queries.captured_queries)
    monkeypatch.setattr(builder, "_closed_cells", lambda spec, scope: None)
    with CaptureQueriesContext(connection) as queries:
        from_facts = figures()
    assert any("reports_dealfact" in q["sql"] for q in queries.captured_queries)
    assert from_cells and from_cells == from_facts


def test_a_report_groups_companies_by_a_choice_custom_field_and_opens_each_cell(db, owner, outsider, owner_client):
    from contacts.tests.factories import CompanyFactory
    from crm.models import CustomField

    CustomField.objects.create(
        model="contacts.company", key="region", label="Region", field_type="choice", choices=["EMEA", "APAC"]
    )
    CompanyFactory(owner=owner, name="Alpha", custom={"region": "EMEA"})
    CompanyFactory(owner=owner, name="Beta", custom={"region": "EMEA"})
    CompanyFactory(owner=owner, name="Gamma", custom={"region": "APAC"})
    CompanyFactory(owner=owner, name="Delta")
    CompanyFactory(owner=outsider, name="Elsewhere", custom={"region": "EMEA"})  # not the rep's to count

    response = _get(owner_client, dataset="companies", dim1="cf_region")
    table = _table(response)
    assert {label: row["total"] for label, row in table.items()} == {"EMEA": 2, "APAC": 1, "Not set": 1}
    listed = owner_client.get(table["EMEA"]["url"])
    assert "cf_region=EMEA" in table["EMEA"]["url"]
    names = {company.name for company in listed.context["page"].rows}
    assert names == {"Alpha", "Beta"}
