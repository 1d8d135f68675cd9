import datetime as dt

import pytest
from django.urls import reverse

from reports.models import ReportSubscription
from reports.services import rollups_rebuild
from reports.tests.factories import LostReasonFactory, deal_with_history, sales_pipeline
from reports.tests.html import table_rows

REPORTS = [
    "reports:funnel",
    "reports:forecast",
    "reports:accuracy",
    "reports:winloss",
    "reports:velocity",
    "reports:activity",
]
CSVS = [
    "reports:funnel-csv",
    "reports:forecast-csv",
    "reports:accuracy-csv",
    "reports:winloss-csv",
    "reports:velocity-csv",
    "reports:activity-csv",
]
JAN = "from=2026-01&to=2026-01"


@pytest.fixture
def built(hand_data):
    rollups_rebuild()
    return hand_data


def test_the_index_links_every_report(owner_client):
    response = owner_client.get(reverse("reports:index"))
    assert response.status_code == 200
    for name in REPORTS:
        assert reverse(name) in response.content.decode()
    assert "You see your own numbers." in response.content.decode()


def test_the_nav_shows_reports(owner_client):
    assert f'href="{reverse("reports:index")}"' in owner_client.get(reverse("home")).content.decode()


@pytest.mark.parametrize("name", REPORTS + CSVS)
def test_every_report_opens_for_rep_manager_and_admin(name, built, owner_client, manager_client, admin_client):
    for client in (owner_client, manager_client, admin_client):
        assert client.get(reverse(name), {"from": "2026-01", "to": "2026-02"}).status_code == 200


@pytest.mark.parametrize("name", REPORTS)
def test_every_report_page_has_an_accessible_chart_and_a_table(name, built, manager_client):
    html = manager_client.get(reverse(name), {"from": "2026-01", "to": "2026-02"}).content.decode()
    assert 'role="img"' in html
    assert "<title id=" in html and "<desc id=" in html
    assert "<table" in html
    assert "Data as of" in html


def test_the_funnel_page_shows_the_hand_computed_figures(built, manager_client):
    response = manager_client.get(reverse("reports:funnel") + "?" + JAN)
    rows = [(row.stage.name, row.entered, row.conversion) for row in response.context["funnel"].rows]
    assert rows == [("Lead", 3, 100.0), ("Qualified", 4, 50.0), ("Proposal", 2, 50.0), ("Won", 1, None)]
    assert "33.3%" in response.content.decode()


def test_a_stage_deleted_in_the_pipeline_editor_keeps_its_place_in_the_funnel(built, manager_client):
    from django.utils import timezone

    from deals.models import Stage

    pipeline = manager_client.get(reverse("reports:funnel") + "?" + JAN).context["funnel"].rows[0].stage.pipeline_id
    proposal = Stage.objects.get(pipeline_id=pipeline, name="Proposal")
    Stage.objects.filter(pk=proposal.pk).update(archived_at=timezone.now())  # as stage_delete leaves a used stage
    rows = manager_client.get(reverse("reports:funnel") + "?" + JAN).context["funnel"].rows
    shown = [(row.stage.name, row.entered) for row in rows]
    assert shown == [("Lead", 3), ("Qualified", 4), ("Proposal", 2), ("Won", 1)]
    rows = manager_client.get(reverse("reports:funnel"), {"from": "2020-01", "to": "2020-01"}).context["funnel"].rows
    assert "Proposal" not in [row.stage.name for row in rows]  # no entrants then: not shown


def test_a_rep_sees_only_their_own_funnel(built, teammate_client):
    response = teammate_client.get(reverse("reports:funnel") + "?" + JAN)
    assert [row.entered for row in response.context["funnel"].rows] == [1, 1, 0, 0]


@pytest.mark.parametrize("name", REPORTS + CSVS)
def test_a_rep_cannot_name_a_teammate_or_a_team_in_the_url(name, built, owner, teammate, north, teammate_client):
    assert teammate_client.get(reverse(name), {"owner": owner.pk}).status_code == 404
    assert teammate_client.get(reverse(name), {"team": north.pk}).status_code == 404
    assert teammate_client.get(reverse(name), {"owner": teammate.pk}).status_code == 200


@pytest.mark.parametrize("name", REPORTS + CSVS)
def test_an_outsider_cannot_see_north_by_url(name, built, owner, north, outsider_client):
    assert outsider_client.get(reverse(name), {"owner": owner.pk}).status_code == 404
    assert outsider_client.get(reverse(name), {"team": north.pk}).status_code == 404


def test_a_manager_cannot_reach_another_team(built, outsider, south, manager_client):
    assert manager_client.get(reverse("reports:winloss"), {"team": south.pk}).status_code == 404
    assert manager_client.get(reverse("reports:winloss"), {"owner": outsider.pk}).status_code == 404


def test_a_manager_filters_by_team_and_owner(built, owner, north, manager_client):
    response = manager_client.get(reverse("reports:funnel"), {"team": north.pk, "owner": owner.pk, "from": "2026-01"})
    assert response.status_code == 200
    assert [row.entered for row in response.context["funnel"].rows] == [2, 3, 2, 1]


def test_an_admin_sees_other_teams(built, outsider, admin_client):
    response = admin_client.get(reverse("reports:winloss"), {"owner": outsider.pk, "from": "2026-01", "to": "2026-01"})
    assert response.context["winloss"].total.won == 1


def test_unknown_filters_are_ignored(built, manager_client):
    response = manager_client.get(reverse("reports:funnel"), {"pipeline": "987654321", "sort": "id;drop"})
    assert response.status_code == 200
    assert response.context["scope"].pipeline == built["pipeline"]


@pytest.mark.parametrize("params", [{"from": "garbage"}, {"pipeline": "x1"}, {"to": "0001-01"}, {"team": "²"}])
def test_malformed_filters_are_a_400(built, manager_client, params):
    assert manager_client.get(reverse("reports:funnel"), params).status_code == 400


@pytest.fixture
def fifty_deals(owner, teammate, outsider):
    _pipeline, s = sales_pipeline()
    reason = LostReasonFactory(name="Budget")
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    for i in range(50):
        at = start + dt.timedelta(days=i)
        last = [s["Won"], s["Lost"], s["Proposal"]][i % 3]
        deal_with_history(
            owner=[owner, teammate, outsider][i % 3],
            moves=[(s["Lead"], at), (s["Qualified"], at + dt.timedelta(days=2)), (last, at + dt.timedelta(days=9))],
            lost_reason=reason if last.is_lost else None,
            expected_close_date=(at + dt.timedelta(days=40)).date(),
            source="website",
        )
    rollups_rebuild()


@pytest.mark.parametrize("name", ["reports:index", *REPORTS, *CSVS])
def test_report_pages_issue_at_most_ten_queries(
    name, fifty_deals, manager_client, admin_client, owner_client, django_assert_max_num_queries
):
    for client in (manager_client, admin_client, owner_client):
        with django_assert_max_num_queries(10):
            assert client.get(reverse(name), {"from": "2026-01", "to": "2026-06"}).status_code == 200


def test_csv_export_follows_the_filters_and_defuses_formulas(built, manager, manager_client):
    s = built["stages"]
    deal_with_history(
        owner=manager,
        lost_reason=LostReasonFactory(name="=HYPERLINK(1)"),
        moves=[
            (s["Lead"], dt.datetime(2026, 1, 2, tzinfo=dt.UTC)),
            (s["Lost"], dt.datetime(2026, 1, 3, tzinfo=dt.UTC)),
        ],
    )
    rollups_rebuild()
    response = manager_client.get(reverse("reports:winloss-csv"), {"from": "2026-01", "to": "2026-01"})
    assert response["Content-Type"].startswith("text/csv")
    body = response.content.decode()
    assert "'=HYPERLINK(1)" in body
    assert "\n=HYPERLINK" not in body and ",=HYPERLINK" not in body
    assert "Month,2026-01,1,2,33.3,1000.00,1600.00" in body.replace("\r", "")


def test_the_funnel_csv_has_a_row_per_stage(built, manager_client):
    body = manager_client.get(reverse("reports:funnel-csv") + "?" + JAN).content.decode().replace("\r", "")
    assert body.splitlines()[1:] == [
        "Lead,3,3,0,100.0,100.0,3600.00",
        "Qualified,4,2,2,50.0,133.3,3900.00",
        "Proposal,2,1,1,50.0,66.7,1600.00",
        "Won,1,0,,,33.3,1000.00",
    ]


def test_a_manager_queues_a_rebuild(manager_client, published_tasks, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = manager_client.post(reverse("reports:rebuild"), {"next": reverse("reports:funnel")})
    assert response.status_code == 302 and response["Location"] == reverse("reports:funnel")
    assert len(callbacks) == 1
    assert len(published_tasks.named("reports.tasks.rebuild_rollups")) == 1


def test_a_rep_cannot_queue_a_rebuild(owner_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        assert owner_client.post(reverse("reports:rebuild")).status_code == 403
    assert callbacks == []
    assert owner_client.get(reverse("reports:rebuild")).status_code == 405


def test_a_rebuild_never_redirects_off_site(admin_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():
        response = admin_client.post(reverse("reports:rebuild"), {"next": "https://evil.example/"})
    assert response["Location"] == reverse("reports:index")


def test_a_manager_subscribes_and_unsubscribes(manager, north, manager_client):
    url = reverse("reports:subscription-toggle", args=[north.pk])
    manager_client.post(url)
    assert ReportSubscription.objects.filter(user=manager, team=north).exists()
    assert "Unsubscribe" in manager_client.get(reverse("reports:funnel")).content.decode()
    manager_client.post(url)
    assert not ReportSubscription.objects.filter(user=manager, team=north).exists()


def test_only_a_teams_manager_can_subscribe_to_it(south, north, manager_client, owner_client):
    assert manager_client.post(reverse("reports:subscription-toggle", args=[south.pk])).status_code == 404
    assert owner_client.post(reverse("reports:subscription-toggle", args=[north.pk])).status_code == 403
    assert not ReportSubscription.objects.exists()


def test_the_home_panel_shows_managers_the_forecast(built, manager_client, owner_client):
    assert "Sales this month" in manager_client.get(reverse("home")).content.decode()
    assert "Sales this month" not in owner_client.get(reverse("home")).content.decode()


@pytest.mark.parametrize(
    ("language", "by_owner", "by_source", "owner_row", "source_rows", "nothing"),
    [
        (
            "en",
            "By owner",
            "By source",
            ["Olga Owner", "1", "1", "50.0%", "1,000"],
            [["Referral", "1", "0", "100.0%", "1,000"], ["Website", "0", "1", "0.0%", "0"]],
            "No deals closed in the period.",
        ),
        (
            "ru",
            "По владельцам",
            "По источникам",
            ["Olga Owner", "1", "1", "50,0%", "1\xa0000"],
            [["Рекомендация", "1", "0", "100,0%", "1\xa0000"], ["Сайт", "0", "1", "0,0%", "0"]],
            "За период нет закрытых сделок.",
        ),
    ],
)
def test_the_win_loss_tables_print_each_line_in_the_readers_format(
    built, manager, manager_client, language, by_owner, by_source, owner_row, source_rows, nothing
):
    """January (conftest.hand_data): the owner won A (1,000 USD, referral) and lost B (website)."""
    manager.language = language
    manager.save(update_fields=["language"])
    html = manager_client.get(reverse("reports:winloss"), {"from": "2026-01", "to": "2026-01"}).content.decode()
    assert table_rows(html, by_owner) == [owner_row]
    assert table_rows(html, by_source) == source_rows
    quiet = manager_client.get(reverse("reports:winloss"), {"from": "2026-03", "to": "2026-03"}).content.decode()
    assert table_rows(quiet, by_owner) == [[nothing]]
