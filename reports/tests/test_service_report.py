"""Reports › Service against a hand-computed example, its access rules and its rollups.

North works Monday–Friday 09:00–17:00 UTC; its normal-priority SLA is a first response within
60 business minutes and a resolution within 480 (8 business hours). 2026-01-05 is a Monday.

    N1 opened Mon 01-05 09:00, email 09:30 (due 10:00: met, 0.5 h), resolved 15:00
       (due 17:00: met, 6 h); rated 2 on 01-06.
    N2 opened Fri 01-09 16:30, email Mon 01-12 10:00 (due Mon 09:30: breached; 0.5 h Friday
       + 1 h Monday = 1.5 h), resolved Tue 01-13 12:00 (due Mon 16:30: breached; 0.5 + 8 + 3
       = 11.5 h); rated 4 on 02-02.
    N3 urgent (no policy: no targets), opened ten days ago, still open: the backlog's 8–30 days.
    S1 in South (the outsider's queue), opened 01-05, never answered: breached, and open.

North, January–February: 2 cases; first response 1 met, 1 breached (50 %), average
(0.5 + 1.5) ÷ 2 = 1.0 h; resolution 1 met, 1 breached (50 %), average (6 + 11.5) ÷ 2 = 8.75
→ 8.8 h. Satisfaction: January 2.0 (1 rating, 1 low), February 4.0 (1), period 3.0 (2).
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone

from activities.models import ActivityType
from crm.models import Outbox
from crm.tests.factories import UserFactory
from reports import selectors, services
from reports.models import BacklogCell, CaseCell, CaseFact, CsatCell
from reports.scope import service_scope_for_user
from service import services as service_services
from service.models import Case, CaseStatus, TeamCalendar
from service.tests.factories import make_case, policy

JAN_FEB = {"from": "2026-01", "to": "2026-02"}


def utc(month: int, day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=dt.UTC)


def _answer(case: Case, *, responded: dt.datetime, resolved: dt.datetime, score: int, rated: dt.datetime) -> None:
    email = ActivityType.objects.get(key="email")
    service_services.case_log_activity(case=case, actor=case.created_by, type=email, subject="Re", now=responded)
    service_services.case_set_status(case=case, actor=case.created_by, status=CaseStatus.RESOLVED, now=resolved)
    token = service_services.survey_issue(case=case, now=rated)
    service_services.survey_answer(token=token, score=score, now=rated)


@pytest.fixture
def cases(owner, outsider, north, south):
    TeamCalendar.objects.create(team=north, time_zone="UTC", weekdays="12345", start="09:00", end="17:00")
    policy(priority="normal", first=60, resolution=480)
    n1 = make_case(team=north, owner=owner, subject="N1", now=utc(1, 5, 9))
    _answer(n1, responded=utc(1, 5, 9, 30), resolved=utc(1, 5, 15), score=2, rated=utc(1, 6, 10))
    n2 = make_case(team=north, owner=owner, subject="N2", now=utc(1, 9, 16, 30), contact_email="n2@example.com")
    _answer(n2, responded=utc(1, 12, 10), resolved=utc(1, 13, 12), score=4, rated=utc(2, 2, 10))
    n3 = make_case(
        team=north,
        owner=owner,
        subject="N3",
        priority="urgent",
        now=timezone.now() - dt.timedelta(days=10),
        contact_email="n3@example.com",
    )
    s1 = make_case(team=south, owner=outsider, subject="S1", now=utc(1, 5, 9), contact_email="s1@example.com")
    services.rollups_rebuild()
    return {"N1": n1, "N2": n2, "N3": n3, "S1": s1}


def _report(user, **params):
    query = QueryDict(mutable=True)
    query.update(params)
    scope = service_scope_for_user(user, query)
    return selectors.service_report(scope, selectors.rollup_status().generation_id)


def test_the_facts_are_in_business_hours(cases):
    facts = {fact.case_id: fact for fact in CaseFact.objects.all()}
    n1, n2, n3, s1 = (facts[cases[name].pk] for name in ("N1", "N2", "N3", "S1"))
    assert (n1.first_response_met, n1.first_response_seconds, n1.resolution_met, n1.resolution_seconds) == (
        True,
        1800,
        True,
        6 * 3600,
    )
    assert (n2.first_response_met, n2.first_response_seconds, n2.resolution_met, n2.resolution_seconds) == (
        False,
        5400,
        False,
        41400,
    )
    assert (n3.first_response_met, n3.resolution_met, n3.open_day is not None) == (None, None, True)
    # S1 is 24/7 (no calendar) and never answered: both targets breached, still open.
    assert (s1.first_response_met, s1.resolution_met, s1.first_response_seconds) == (False, False, None)
    assert (n1.csat_score, n1.csat_month, n2.csat_month) == (2, dt.date(2026, 1, 1), dt.date(2026, 2, 1))


def test_the_report_matches_the_hand_computed_figures(cases, manager):
    report = _report(manager, **JAN_FEB)
    [north] = report.by_team
    assert (north.label, north.cases) == ("North", 2)
    assert (north.first_response_met, north.first_response_breached, north.first_response_compliance) == (1, 1, 50.0)
    assert (north.resolution_met, north.resolution_breached, north.resolution_compliance) == (1, 1, 50.0)
    assert (north.first_response_hours, north.resolution_hours) == (1.0, 8.8)
    assert [(line.label, line.cases, line.breached) for line in report.by_month] == [
        ("2026-01", 2, 2),
        ("2026-02", 0, 0),
    ]
    assert [(line.key, line.cases) for line in report.by_priority] == [("normal", 2)]
    [backlog] = report.backlog
    assert backlog.buckets == [0, 0, 0, 1, 0]  # N3, ten days old
    [csat] = report.csat
    assert [(line.ratings, line.average, line.low) for line in csat.months] == [(1, 2.0, 1), (1, 4.0, 0)]
    assert (csat.team.ratings, csat.team.average, report.csat_total.average) == (2, 3.0, 3.0)


def test_the_page_shows_the_figures_with_charts(cases, manager_client):
    html = manager_client.get(reverse("reports:service"), JAN_FEB).content.decode()
    assert 'id="stat-breached">2<' in html
    assert html.count('role="img"') == 3
    assert "<title id=" in html and "<desc id=" in html
    assert "8.8" in html and "50.0%" in html
    visible = re.sub(r"[A-Za-z0-9]{32,}", "", html)  # the CSRF tokens: random, "S1" turns up in some
    assert "S1" not in visible and "South" not in visible


@pytest.mark.parametrize("client_name", ["owner_client", "teammate_client", "manager_client"])
def test_north_sees_its_queue_only(client_name, cases, request):
    client = request.getfixturevalue(client_name)
    html = client.get(reverse("reports:service"), JAN_FEB).content.decode()
    assert "North" in html and "South" not in html


def test_an_outsider_sees_nothing_of_north(cases, outsider, outsider_client, north):
    report = _report(outsider, **JAN_FEB)
    assert [line.label for line in report.by_team] == ["South"]
    assert (report.total.cases, report.backlog_total.total) == (1, 1)
    for name in ("reports:service", "reports:service-csv"):
        assert outsider_client.get(reverse(name), {"team": north.pk}).status_code == 404
    assert "North" not in outsider_client.get(reverse("reports:service-csv"), JAN_FEB).content.decode()


def test_a_manager_cannot_name_another_queue(cases, south, manager_client):
    assert manager_client.get(reverse("reports:service"), {"team": south.pk}).status_code == 404


def test_someone_in_no_team_sees_no_queue(cases):
    loner = UserFactory(username="loner")
    report = _report(loner, **JAN_FEB)
    assert (report.by_team, report.total.cases, report.backlog_total.total) == ([], 0, 0)


def test_an_admin_sees_every_queue(cases, admin_client):
    html = admin_client.get(reverse("reports:service"), JAN_FEB).content.decode()
    assert "North" in html and "South" in html
    assert 'id="stat-breached">4<' in html  # North's 2 and S1's two targets


def test_malformed_filters_are_a_400(cases, manager_client):
    assert manager_client.get(reverse("reports:service"), {"from": "2026-13"}).status_code == 400
    assert manager_client.get(reverse("reports:service"), {"team": "²"}).status_code in (400, 404)


def test_the_csv_follows_the_scope(cases, manager_client):
    response = manager_client.get(reverse("reports:service-csv"), JAN_FEB)
    assert response.status_code == 200
    lines = response.content.decode().splitlines()
    assert lines[0].startswith("Section,Queue,Group,Today")
    north = next(line for line in lines if line.startswith("SLA by queue,North"))
    assert north.split(",")[9:18] == ["2", "1", "1", "50.0", "1", "1", "50.0", "1.0", "8.8"]
    assert not any("South" in line for line in lines)


@pytest.mark.parametrize("client_name", ["owner_client", "manager_client", "admin_client"])
def test_the_page_issues_a_constant_number_of_queries(client_name, cases, request, django_assert_max_num_queries):
    client = request.getfixturevalue(client_name)
    client.get(reverse("reports:service"))  # session and caches warm
    with django_assert_max_num_queries(8):
        assert client.get(reverse("reports:service"), JAN_FEB).status_code == 200


def _cells() -> dict:
    return {
        model.__name__: sorted(
            tuple(v for k, v in row.items() if k not in ("id", "generation_id")) for row in model.objects.values()
        )
        for model in (CaseCell, BacklogCell, CsatCell)
    }


def test_a_refresh_after_a_change_gives_what_a_rebuild_gives(cases, owner):
    n3 = cases["N3"]
    service_services.case_set_status(case=n3, actor=owner, status=CaseStatus.RESOLVED)
    assert services.rollups_refresh_for_case(case_id=n3.pk)
    refreshed = _cells()
    services.rollups_rebuild()
    assert refreshed == _cells()
    assert not BacklogCell.objects.filter(team_id=n3.team_id).exists()


def test_a_deleted_case_leaves_the_cells(cases):
    cases["S1"].delete()
    deleted = _cells()
    services.rollups_rebuild()
    assert deleted == _cells()


def test_case_changes_queue_a_refresh_through_the_outbox(cases, owner):
    Outbox.objects.all().delete()
    service_services.case_set_status(case=cases["N3"], actor=owner, status=CaseStatus.OPEN)
    rows = [(row.task, row.args) for row in Outbox.objects.order_by("pk")]
    assert ("reports.tasks.refresh_case_rollups", [cases["N3"].pk]) in rows
    assert ("reports.tasks.refresh_customer_value", [[cases["N3"].company_id]]) in rows


def test_an_sla_breach_reaches_the_report_through_the_refresh(owner, manager, north):
    services.rollups_rebuild()  # before the case: only the incremental refresh can add it
    policy(priority="high", first=1, resolution=60)
    case = make_case(
        team=north, owner=owner, subject="Late", priority="high", now=timezone.now() - dt.timedelta(minutes=5)
    )
    service_services.sla_sweep()
    case.refresh_from_db()
    assert case.sla_breached
    assert _report(manager).total.cases == 0
    services.rollups_refresh_for_case(case_id=case.pk)
    report = _report(manager)
    assert (report.total.cases, report.total.first_response_breached, report.backlog_total.total) == (1, 1, 1)
