"""Saved list views: saving, sharing with a team, access (owner / teammate / outsider), the
remembered view, columns, and constant query counts."""

from __future__ import annotations

import pytest
from django.urls import reverse

from activities.tests.factories import ActivityFactory
from contacts.tests.factories import CompanyFactory
from crm.models import CustomField, LastListView, SavedView
from deals.tests.factories import DealFactory

pytestmark = pytest.mark.django_db

COMPANIES = "/companies/"


def _save(client, **data):
    payload = {"list_name": "companies", "name": "Leads in Germany", "query": "stage=lead&country=DE&sort=-created",
               "columns": "domain,owner", "team": ""}  # fmt: skip
    payload.update(data)
    return client.post(reverse("saved-view-save"), payload)


def test_a_rep_saves_a_private_view_and_it_is_a_url(owner_client, owner):
    CompanyFactory(owner=owner, name="Berlin Lead", country="DE", lifecycle_stage="lead")
    CompanyFactory(owner=owner, name="Austin Lead", country="US", lifecycle_stage="lead")
    response = _save(owner_client)
    view = SavedView.objects.get()
    assert response.status_code == 302 and response.url == f"{COMPANIES}?view={view.pk}"
    assert (view.owner, view.team, view.query, view.columns) == (
        owner,
        None,
        "stage=lead&country=DE&sort=-created",
        ["domain", "owner"],
    )
    page = owner_client.get(COMPANIES, {"view": view.pk})
    assert [row.name for row in page.context["page"].rows] == ["Berlin Lead"]
    assert [h["key"] for h in page.context["header"]] == ["name", "domain", "owner"]


def test_a_private_view_is_404_for_a_teammate_and_an_outsider(owner_client, teammate_client, outsider_client):
    _save(owner_client)
    view = SavedView.objects.get()
    assert teammate_client.get(COMPANIES, {"view": view.pk}).status_code == 404
    assert outsider_client.get(COMPANIES, {"view": view.pk}).status_code == 404
    assert view.name not in teammate_client.get(COMPANIES).content.decode()


def test_a_team_view_opens_for_the_team_and_not_for_outsiders(owner_client, teammate_client, outsider_client, north):
    _save(owner_client, team=north.pk, name="North leads")
    view = SavedView.objects.get()
    assert view.team == north
    teammate_page = teammate_client.get(COMPANIES, {"view": view.pk})
    assert teammate_page.status_code == 200 and "North leads" in teammate_page.content.decode()
    assert outsider_client.get(COMPANIES, {"view": view.pk}).status_code == 404
    assert "North leads" not in outsider_client.get(COMPANIES).content.decode()


def test_only_a_team_the_user_belongs_to_can_be_shared_with(owner_client, south):
    _save(owner_client, team=south.pk)
    assert not SavedView.objects.exists()


def test_only_the_owner_updates_or_deletes_a_view(owner_client, teammate_client, north):
    _save(owner_client, team=north.pk)
    view = SavedView.objects.get()
    assert _save(teammate_client, view=view.pk, name="Hijacked").status_code == 404
    assert teammate_client.post(reverse("saved-view-delete", args=[view.pk])).status_code == 404
    view.refresh_from_db()
    assert view.name == "Leads in Germany"
    _save(owner_client, view=view.pk, name="Renamed", team="")
    view.refresh_from_db()
    assert (view.name, view.team) == ("Renamed", None)
    assert owner_client.post(reverse("saved-view-delete", args=[view.pk])).status_code == 302
    assert not SavedView.objects.exists()


def test_the_list_remembers_the_last_view_until_all_records_is_chosen(owner_client, owner):
    _save(owner_client)
    view = SavedView.objects.get()
    owner_client.get(COMPANIES, {"view": view.pk})
    back = owner_client.get(COMPANIES)
    assert back.status_code == 302 and back.url == f"{COMPANIES}?view={view.pk}"
    assert owner_client.get(COMPANIES, {"view": "all"}).status_code == 200
    assert not LastListView.objects.filter(user=owner).exists()
    assert owner_client.get(COMPANIES).status_code == 200


def test_a_view_of_another_list_or_a_malformed_id_is_refused(owner_client):
    _save(owner_client)
    view = SavedView.objects.get()
    assert owner_client.get(reverse("deals:list"), {"view": view.pk}).status_code == 404
    assert owner_client.get(COMPANIES, {"view": "²"}).status_code == 400


def test_url_parameters_refine_a_view(owner_client, owner):
    CompanyFactory(owner=owner, name="B", country="DE", lifecycle_stage="lead")
    CompanyFactory(owner=owner, name="A", country="DE", lifecycle_stage="lead")
    _save(owner_client)
    view = SavedView.objects.get()
    page = owner_client.get(COMPANIES, {"view": view.pk, "sort": "name"})
    assert [row.name for row in page.context["page"].rows] == ["A", "B"]


@pytest.mark.parametrize(
    ("list_name", "url_name"),
    [("contacts", "contacts:contact-list"), ("deals", "deals:list"), ("activities", "activities:list"),
     ("cases", "service:list")],
)  # fmt: skip
def test_every_list_opens_its_views(owner_client, teammate_client, outsider_client, north, list_name, url_name):
    response = _save(owner_client, list_name=list_name, query="q=zzz", columns="", team=north.pk, name="Team view")
    view = SavedView.objects.get()
    assert response.url == f"{reverse(url_name)}?view={view.pk}"
    page = owner_client.get(reverse(url_name), {"view": view.pk})
    assert page.status_code == 200 and "Team view" in page.content.decode()
    assert teammate_client.get(reverse(url_name), {"view": view.pk}).status_code == 200
    assert outsider_client.get(reverse(url_name), {"view": view.pk}).status_code == 404


def test_deal_list_custom_columns_and_filters(owner_client, owner):
    CustomField.objects.create(
        model="deals.deal", key="tier", label="Tier", field_type="choice", choices=["Gold", "Silver"]
    )
    DealFactory(owner=owner, title="Gold deal", custom={"tier": "Gold"})
    DealFactory(owner=owner, title="Plain deal")
    page = owner_client.get(reverse("deals:list"), {"cf_tier": "Gold", "cols": ["company", "cf_tier"]})
    text = page.content.decode()
    assert "Gold deal" in text and "Plain deal" not in text
    assert "<td>Gold</td>" in text  # the row's own value in its column
    assert [h["key"] for h in page.context["header"]] == ["company", "cf_tier"]


def test_a_list_with_a_view_keeps_a_constant_number_of_queries(owner_client, owner, django_assert_max_num_queries):
    _save(owner_client, query="sort=name", columns="domain,owner,tags")
    view = SavedView.objects.get()
    CompanyFactory(owner=owner)
    owner_client.get(COMPANIES, {"view": view.pk})
    with django_assert_max_num_queries(30) as few:
        owner_client.get(COMPANIES, {"view": view.pk})
    for _n in range(40):
        CompanyFactory(owner=owner)
    with django_assert_max_num_queries(len(few.captured_queries)):
        owner_client.get(COMPANIES, {"view": view.pk})
    for _n in range(30):
        ActivityFactory(owner=owner)
    _save(owner_client, list_name="activities", query="", columns="", name="Acts")
    acts = SavedView.objects.get(list_name="activities")
    with django_assert_max_num_queries(30):
        assert owner_client.get(reverse("activities:list"), {"view": acts.pk}).status_code == 200
