"""The customer value pages: access through the report scope, CSV, charts, query counts."""

from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.template import Context, Template
from django.test import RequestFactory
from django.urls import reverse

from contacts.models import ValueSegment as S
from reports.models import CustomerValue
from reports.tests.html import table_rows
from reports.value import AT_RISK_SEGMENTS

PAGES = ["reports:customer-value", "reports:top-customers", "reports:cohorts", "reports:dormant", "reports:cross-sell"]
CSVS = [f"{name}-csv" for name in PAGES]
ALL_TIME = {"from": "2024-01", "to": "2026-12"}


def _names(response) -> set[str]:
    return {row.company.name for row in response.context["rows"]}


@pytest.mark.parametrize("name", PAGES + CSVS)
def test_every_page_and_export_opens_for_everyone_with_a_scope(
    name, value_built, owner_client, teammate_client, outsider_client, manager_client, admin_client
):
    for client in (owner_client, teammate_client, outsider_client, manager_client, admin_client):
        assert client.get(reverse(name)).status_code == 200


@pytest.mark.parametrize("name", PAGES)
def test_every_page_has_an_accessible_chart_a_table_and_nav(name, value_built, manager_client):
    html = manager_client.get(reverse(name), ALL_TIME).content.decode()
    assert 'role="img"' in html and "<title id=" in html and "<desc id=" in html
    assert "<table" in html
    assert "Computed" in html and "Recompute now" in html
    for other in PAGES:
        assert reverse(other) in html


def test_the_owner_sees_their_customers_ranked_by_lifetime_value(value_built, owner_client):
    response = owner_client.get(reverse("reports:top-customers"))
    ltv = [(row.company.name, row.lifetime_value) for row in response.context["rows"]]
    assert [name for name, _ltv in ltv] == [f"Customer {n}" for n in "ECAFDB"]  # 33k, 24k, 18k, 6.4k, 2.1k, 1.5k
    assert "Recompute now" not in response.content.decode()  # reps cannot trigger it


def test_a_teammate_sees_only_their_own_numbers_and_cannot_name_the_owner(
    value_built, owner, north, teammate, teammate_client
):
    assert _names(teammate_client.get(reverse("reports:top-customers"))) == set()
    for name in PAGES + CSVS:
        assert teammate_client.get(reverse(name), {"owner": owner.pk}).status_code == 404
        assert teammate_client.get(reverse(name), {"team": north.pk}).status_code == 404


def test_an_outsider_sees_their_own_customer_and_nothing_of_north(value_built, owner, north, outsider_client):
    assert _names(outsider_client.get(reverse("reports:top-customers"))) == {"Customer Z"}
    for name in PAGES + CSVS:
        assert outsider_client.get(reverse(name), {"owner": owner.pk}).status_code == 404
        assert outsider_client.get(reverse(name), {"team": north.pk}).status_code == 404


def test_a_manager_sees_their_team_and_not_another(value_built, owner, outsider, south, manager_client):
    assert _names(manager_client.get(reverse("reports:top-customers"))) == {f"Customer {n}" for n in "ABCDEF"}
    assert manager_client.get(reverse("reports:top-customers"), {"owner": owner.pk}).status_code == 200
    assert manager_client.get(reverse("reports:dormant"), {"team": south.pk}).status_code == 404
    assert manager_client.get(reverse("reports:cross-sell"), {"owner": outsider.pk}).status_code == 404


def test_an_admin_sees_everyone(value_built, outsider, admin_client):
    assert "Customer Z" in _names(admin_client.get(reverse("reports:top-customers")))
    assert _names(admin_client.get(reverse("reports:top-customers"), {"owner": outsider.pk})) == {"Customer Z"}


def test_the_segments_page_counts_and_shares_and_links_to_the_company_list(value_built, manager_client):
    response = manager_client.get(reverse("reports:customer-value"))
    lines = {line.segment: line for line in response.context["segments"].lines}
    # North's scored customers: A (Champions, 6000 in window), B (Hibernating, 500),
    # C (At risk, 8000), D (Lost, 700), E (Loyal, 11000); F has no purchase in the window.
    assert response.context["segments"].customers == 6
    assert response.context["segments"].scored == 5
    assert (lines[S.AT_RISK].customers, lines[S.AT_RISK].customer_share) == (1, 20.0)
    assert lines[S.LOYAL].revenue_share == 42.0  # 11000 ÷ (6000 + 500 + 8000 + 700 + 11000) = 41.98 %
    html = response.content.decode()
    assert f"{reverse('contacts:company-list')}?segment=at_risk" in html


def test_the_company_list_filters_by_segment(value_built, owner_client):
    response = owner_client.get(reverse("contacts:company-list"), {"segment": "at_risk"})
    assert [company.name for company in response.context["page"].rows] == ["Customer C"]
    assert 'name="segment"' in response.content.decode()


def test_top_customers_filter_by_segment_and_show_the_offer(value_built, manager_client):
    response = manager_client.get(reverse("reports:top-customers"), {"segment": "loyal"})
    assert _names(response) == {"Customer E"}
    assert "Onboarding" in response.content.decode()  # E's suggestion, from Seat → Onboarding


@pytest.mark.parametrize(
    ("language", "caption", "c_figures", "segments"),
    [
        ("en", "Customers ranked by", ["8,000", "8,000", "2", "15 Dec 2025", "0"], ("At risk", "no recent")),
        ("ru", "Клиенты по пожизненной", ["8\xa0000", "8\xa0000", "2", "15 дек. 2025", "0"], ("Под угрозой", "нет")),
    ],
)
def test_top_customers_print_rank_value_segment_and_offer(
    language, caption, c_figures, segments, value_built, owner, owner_client
):
    owner.language = language
    owner.save(update_fields=["language"])
    html = owner_client.get(reverse("reports:top-customers")).content.decode()
    ranked = list(
        CustomerValue.objects.filter(owner=owner).select_related("company").order_by("-lifetime_value", "company_id")
    )
    rows = table_rows(html, caption)
    assert [row[0] for row in rows] == [str(rank) for rank in range(1, len(ranked) + 1)]
    assert [row[1] for row in rows] == [f"{value.company.name}Olga Owner" for value in ranked]
    whole = [f"{value.lifetime_value.quantize(Decimal(1), ROUND_HALF_UP):,}" for value in ranked]
    assert [row[3] for row in rows] == [text.replace(",", "," if language == "en" else "\xa0") for text in whole]
    by_company = {row[1].removesuffix("Olga Owner"): row for row in rows}
    assert by_company["Customer C"][4:9] == c_figures  # 12 months, all time, won deals, last purchase, pipeline
    at_risk, no_recent_purchase = segments
    assert by_company["Customer C"][2].strip().startswith(at_risk)  # the segment, then its R F M scores
    assert by_company["Customer F"][2].startswith(no_recent_purchase)
    assert by_company["Customer F"][8].replace("\xa0", ",") == "2,000"  # its open deal
    assert by_company["Customer E"][9].startswith("Onboarding")
    assert html.count('<tr class="table-warning">') == sum(value.segment in AT_RISK_SEGMENTS for value in ranked) > 0
    assert f'<a href="{value_built["companies"]["C"].get_absolute_url()}">Customer C</a>' in html


def test_top_customers_pages(value_built, admin_client):
    response = admin_client.get(reverse("reports:top-customers"), {"n": "10"})
    assert len(response.context["rows"]) == 7
    response = admin_client.get(reverse("reports:top-customers"), {"n": "7", "page": "2"})  # 7 is not offered
    assert response.context["size"] == 10


def test_the_dormant_list_shows_the_follow_up(value_built, manager_client):
    from reports.services import dormancy_followups_create
    from reports.tests.conftest import VALUE_NOW

    dormancy_followups_create(now=VALUE_NOW)
    response = manager_client.get(reverse("reports:dormant"))
    assert _names(response) == {"Customer C"}
    assert "task open" in response.content.decode()


def _russian_days(days: int) -> str:
    if days % 10 == 1 and days % 100 != 11:
        return f"{days} день"
    if 2 <= days % 10 <= 4 and not 12 <= days % 100 <= 14:
        return f"{days} дня"
    return f"{days} дней"


@pytest.mark.parametrize(
    ("language", "caption", "segment", "days", "last_purchase", "task"),
    [
        ("en", "Follow-up", "At risk", lambda n: f"{n} days", "15 Dec 2025", "task open"),
        ("ru", "Связаться", "Под угрозой", _russian_days, "15 дек. 2025", "задача открыта"),
    ],
)
def test_the_dormant_table_prints_quiet_days_value_and_the_follow_up_task(
    language, caption, segment, days, last_purchase, task, value_built, manager, manager_client
):
    from django.utils import timezone

    from reports.models import DormancyFollowUp
    from reports.services import dormancy_followups_create
    from reports.tests.conftest import VALUE_NOW

    dormancy_followups_create(now=VALUE_NOW)
    manager.language = language
    manager.save(update_fields=["language"])
    html = manager_client.get(reverse("reports:dormant")).content.decode()
    c = CustomerValue.objects.get(company=value_built["companies"]["C"])
    quiet = (timezone.now() - c.last_touch_at).days
    ltv = f"{c.lifetime_value.quantize(Decimal(1), ROUND_HALF_UP):,}".replace(",", "," if language == "en" else "\xa0")
    row = ["Customer COlga Owner", segment, days(quiet), last_purchase, ltv, f" {task}"]
    assert table_rows(html, caption)[-1] == row
    activity = DormancyFollowUp.objects.get(company=c.company).activity
    assert f'<a href="{activity.get_absolute_url()}"><i class="bi bi-square" aria-hidden="true"></i> {task}</a>' in html


def test_csv_exports_defuse_formulas(value_built, admin_client):
    CustomerValue.objects.filter(company=value_built["companies"]["E"]).update(segment=S.LOYAL)
    value_built["companies"]["E"].__class__.objects.filter(pk=value_built["companies"]["E"].pk).update(
        name="=HYPERLINK(1)"
    )
    body = admin_client.get(reverse("reports:top-customers-csv")).content.decode()
    assert "'=HYPERLINK(1)" in body and ",=HYPERLINK" not in body
    assert body.splitlines()[0].startswith("Rank,Company,Owner,Segment")


def test_the_cohort_csv_has_a_row_per_cohort(value_built, manager_client):
    body = manager_client.get(reverse("reports:cohorts-csv"), ALL_TIME).content.decode().replace("\r", "")
    row = next(line for line in body.splitlines() if line.startswith("2025-09"))
    assert row.startswith("2025-09,2,7000.00,50.0,57.1,50.0,28.6,50.0,14.3,")


@pytest.mark.parametrize(
    ("language", "september", "empty"),
    [
        ("en", ["2025-09", "2", "7,000", "50.0%57.1%", "50.0%28.6%", "50.0%14.3%"], "No first purchases in the period"),
        ("ru", ["2025-09", "2", "7\xa0000", "50,0%57,1%", "50,0%28,6%", "50,0%14,3%"], "За период нет первых покупок"),
    ],
)
def test_the_cohort_table_prints_shares_and_retention_in_the_readers_language(
    language, september, empty, value_built, manager, manager_client
):
    manager.language = language
    manager.save(update_fields=["language"])
    html = manager_client.get(reverse("reports:cohorts"), ALL_TIME).content.decode()
    rows = table_rows(html, "cohort-table")
    assert next(row for row in rows if row[0] == "2025-09")[:6] == september
    # Every row has its eight quarters; the latest cohort's last quarter (two years on) is
    # still ahead, drawn as a dot, not as a share.
    assert {len(row) for row in rows} == {11}
    assert rows[-1][-1] == "·" and 'class="cohort-cell cohort-future"' in html
    assert '<td class="cohort-cell" style="background: rgba(31, 111, 235, 0.62)">50' in html  # 50 % ÷ 80
    html = manager_client.get(reverse("reports:cohorts"), {"from": "2020-01", "to": "2020-06"}).content.decode()
    assert table_rows(html, "cohort-table") == [[f"{empty}."]]
    assert '<td colspan="11" class="text-secondary">' in html


@pytest.mark.parametrize("name", PAGES + CSVS)
def test_value_pages_issue_at_most_ten_queries(
    name, value_built, owner_client, manager_client, admin_client, django_assert_max_num_queries
):
    for client in (owner_client, manager_client, admin_client):
        with django_assert_max_num_queries(10):
            assert client.get(reverse(name), ALL_TIME).status_code == 200


def test_a_manager_queues_a_recompute(manager_client, published_tasks, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = manager_client.post(reverse("reports:value-recompute"), {"next": reverse("reports:dormant")})
    assert response["Location"] == reverse("reports:dormant")
    assert len(published_tasks.named("reports.tasks.recompute_customer_value")) == 1


def test_a_rep_cannot_queue_a_recompute(owner_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        assert owner_client.post(reverse("reports:value-recompute")).status_code == 403
    assert callbacks == []
    assert owner_client.get(reverse("reports:value-recompute")).status_code == 405


def _render_card(user, company) -> str:
    request = RequestFactory().get("/")
    request.user = user
    return Template("{% load value_tags %}{% customer_value company %}").render(
        Context({"request": request, "company": company})
    )


def test_the_company_page_shows_segment_value_and_suggestions(value_built, owner_client):
    e = value_built["companies"]["E"]
    html = owner_client.get(e.get_absolute_url()).content.decode()
    assert "Customer value" in html and "Loyal" in html
    assert "33,000" in html  # lifetime value
    assert "75.0% of customers who bought Seat also bought it" in html
    assert 'id="company-value-chart-title"' in html


def test_a_teammate_sees_the_card_and_an_outsider_gets_nothing(
    value_built, teammate, outsider, outsider_client, django_assert_max_num_queries
):
    e = value_built["companies"]["E"]
    # The value row, its profitability, its suggestions, and the viewer's visible owners
    # (cached on a real page).
    with django_assert_max_num_queries(4):
        assert "Lifetime value" in _render_card(teammate, e)
    assert "Lifetime value" not in _render_card(outsider, e)
    assert outsider_client.get(e.get_absolute_url()).status_code == 404
