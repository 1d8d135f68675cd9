"""Every deals dimension of the report builder is answered from the rollup facts, without
joining the 300k deals: stage and choice custom fields are on ``DealFact`` (kept current by the
refresh after a move or an edit), country, segment and tag come through the fact's company.

``hand_data`` (reports/tests/conftest.py): owner's A won (referral), B and D lost; teammate's C
open in Qualified; outsider's E won. All created in January 2026. The manager manages North
(owner and teammate).
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crm import custom_fields
from crm.models import CustomField, Outbox
from deals import services as deal_services
from deals.models import Deal
from reports.models import DealFact, RollupPointer
from reports.services import rollups_rebuild, rollups_refresh_for_deal

STAGE_BY_MONTH = {"dataset": "deals", "dim1": "stage", "dim2": "month", "date": "created", "measure": "count"}
REFRESH = "reports.tasks.refresh_deal_rollups"


def _run(client, **params):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("reports:builder"), params)
    assert response.status_code == 200
    result = response.context["result"]
    assert not result.too_broad, result.too_broad
    grouped = [q["sql"] for q in queries.captured_queries if "reports_dealfact" in q["sql"] and "GROUP BY" in q["sql"]]
    assert len(grouped) == 1, grouped
    return result, grouped[0]


def _totals(result) -> dict[str, int]:
    return {row.label: row.total.value for row in result.rows}


def _label(stage) -> str:
    return f"{stage.name} ({stage.pipeline.name})"


@pytest.fixture
def region():
    field = CustomField.objects.create(
        model="deals.deal", key="region", label="Region", field_type="choice", choices=["EMEA", "APAC"]
    )
    custom_fields.forget_definitions()
    yield field
    custom_fields.forget_definitions()


def test_stage_by_month_reads_the_facts_alone_and_counts_what_each_persona_may_see(
    hand_data, owner_client, teammate_client, outsider_client, manager_client, admin_client
):
    rollups_rebuild()
    s = hand_data["stages"]
    won, lost, qualified = _label(s["Won"]), _label(s["Lost"]), _label(s["Qualified"])

    result, sql = _run(owner_client, **STAGE_BY_MONTH)
    assert "deals_deal" not in sql  # the stage is on the fact: no join of every deal
    assert _totals(result) == {lost: 2, won: 1}
    assert [label for _key, label in result.columns] == ["2026-01"]
    assert _totals(_run(teammate_client, **STAGE_BY_MONTH)[0]) == {qualified: 1}
    assert _totals(_run(outsider_client, **STAGE_BY_MONTH)[0]) == {won: 1}
    assert _totals(_run(manager_client, **STAGE_BY_MONTH)[0]) == {lost: 2, won: 1, qualified: 1}
    assert _totals(_run(admin_client, **STAGE_BY_MONTH)[0]) == {won: 2, lost: 2, qualified: 1}


def test_a_stage_cell_opens_exactly_its_deals(hand_data, owner_client, manager_client):
    rollups_rebuild()
    deals, s = hand_data["deals"], hand_data["stages"]
    result, _sql = _run(manager_client, **STAGE_BY_MONTH)
    cell = next(row for row in result.rows if row.label == _label(s["Lost"])).cells[0]
    assert f"stage={s['Lost'].pk}" in cell.url and "created_from=2026-01-01" in cell.url
    listed = manager_client.get(cell.url).context["page"].object_list
    assert sorted(d.pk for d in listed) == sorted([deals["B"].pk, deals["D"].pk])
    # A rep's cell names the rep, so the list (which shows the team's deals too) shows the same.
    result, _sql = _run(owner_client, **STAGE_BY_MONTH)
    url = next(row for row in result.rows if row.label == _label(s["Won"])).total.url
    assert [d.pk for d in owner_client.get(url).context["page"].object_list] == [deals["A"].pk]


def test_a_move_refreshes_the_facts_stage(hand_data, teammate, manager_client):
    rollups_rebuild()
    deal, s = hand_data["deals"]["C"], hand_data["stages"]
    deal_services.deal_move_stage(deal=deal, stage=s["Proposal"], actor=teammate)
    assert Outbox.objects.filter(task=REFRESH, args=[deal.pk]).exists()
    assert rollups_refresh_for_deal(deal_id=deal.pk)
    result, _sql = _run(manager_client, **STAGE_BY_MONTH)
    totals = _totals(result)
    assert totals[_label(s["Proposal"])] == 1 and _label(s["Qualified"]) not in totals


def test_deals_group_by_a_choice_custom_field_from_the_facts(
    hand_data, region, owner_client, outsider_client, manager_client
):
    deals = hand_data["deals"]
    Deal.objects.filter(pk__in=[deals["A"].pk, deals["B"].pk, deals["E"].pk]).update(custom={"region": "EMEA"})
    Deal.objects.filter(pk=deals["C"].pk).update(custom={"region": "APAC"})
    rollups_rebuild()

    result, sql = _run(owner_client, dataset="deals", dim1="cf_region", dim2="stage", measure="count")
    assert "deals_deal" not in sql
    assert _totals(result) == {"EMEA": 2, "Not set": 1}
    assert _totals(_run(outsider_client, dataset="deals", dim1="cf_region")[0]) == {"EMEA": 1}
    result, _sql = _run(manager_client, dataset="deals", dim1="cf_region")
    assert _totals(result) == {"EMEA": 2, "APAC": 1, "Not set": 1}
    url = next(row for row in result.rows if row.label == "EMEA").total.url
    assert "cf_region=EMEA" in url
    listed = manager_client.get(url).context["page"].object_list
    assert sorted(d.pk for d in listed) == sorted([deals["A"].pk, deals["B"].pk])


def test_an_edit_queues_the_refresh_that_brings_the_new_value_to_the_report(hand_data, region, owner, manager_client):
    rollups_rebuild()
    deal = hand_data["deals"]["A"]
    deal_services.deal_update(deal=deal, actor=owner, version=deal.version, data={"custom": {"region": "APAC"}})
    assert Outbox.objects.filter(task=REFRESH, args=[deal.pk]).exists()
    generation = RollupPointer.objects.get(pk=1).generation_id
    assert DealFact.objects.get(generation_id=generation, deal=deal).custom == {}  # until the refresh runs
    rollups_refresh_for_deal(deal_id=deal.pk)
    assert DealFact.objects.get(generation_id=generation, deal=deal).custom == {"region": "APAC"}
    assert _totals(_run(manager_client, dataset="deals", dim1="cf_region")[0]) == {"APAC": 1, "Not set": 3}


@pytest.mark.parametrize("dim", ["country", "segment", "tag"])
def test_company_dimensions_join_the_company_not_the_deal(hand_data, dim, owner, manager_client):
    from contacts.models import Tag
    from contacts.tests.factories import CompanyFactory

    deals = hand_data["deals"]
    acme = CompanyFactory(owner=owner, name="Acme", country="DE", value_segment="champions")
    acme.tags.add(Tag.objects.create(name="Key account"))
    Deal.objects.filter(pk__in=[deals["A"].pk, deals["B"].pk]).update(company=acme)
    rollups_rebuild()
    result, sql = _run(manager_client, dataset="deals", dim1=dim, dim2="quarter", measure="count")
    assert "deals_deal" not in sql and "contacts_company" in sql
    expected = {"country": "Germany", "segment": "Champions", "tag": "Key account"}[dim]
    assert _totals(result) == {expected: 2, "Not set": 2}


def test_a_stage_report_page_issues_a_constant_number_of_queries(
    hand_data, region, manager_client, django_assert_max_num_queries
):
    rollups_rebuild()
    with django_assert_max_num_queries(14):
        assert manager_client.get(reverse("reports:builder"), STAGE_BY_MONTH).status_code == 200
    with django_assert_max_num_queries(14):
        params = {"dataset": "deals", "dim1": "cf_region", "dim2": "quarter"}
        assert manager_client.get(reverse("reports:builder"), params).status_code == 200


def test_weeks_group_by_the_facts_day_and_open_exactly_their_deals(hand_data, manager_client):
    rollups_rebuild()
    deals = hand_data["deals"]
    result, sql = _run(manager_client, dataset="deals", dim1="week", date="created", measure="count")
    assert "created_day" in sql and "AT TIME ZONE" not in sql
    # D (Fri Jan 2) and B (Sat Jan 3) in ISO week 1 of 2026; A (Jan 5) and C (Jan 7) in week 2.
    assert _totals(result) == {"2026-W01": 2, "2026-W02": 2}
    url = next(row for row in result.rows if row.label == "2026-W01").total.url
    assert "created_from=2025-12-29" in url and "created_to=2026-01-04" in url
    listed = manager_client.get(url).context["page"].object_list
    assert sorted(d.pk for d in listed) == sorted([deals["B"].pk, deals["D"].pk])
