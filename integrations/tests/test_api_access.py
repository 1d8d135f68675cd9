"""The owner / teammate / outsider / admin matrix over every endpoint, and token scopes."""

from __future__ import annotations

import pytest
from django.urls import reverse

from activities.tests.factories import ActivityFactory, activity_type
from contacts.tests.factories import CompanyFactory, ContactFactory
from deals.tests.factories import DealFactory, make_pipeline, stage
from integrations.models import TokenScope
from integrations.tests.conftest import token_client

pytestmark = pytest.mark.django_db


def _company(owner):
    return CompanyFactory(owner=owner, name="Acme Widgets")


def _contact(owner):
    return ContactFactory(owner=owner, last_name="Petrova", first_name="Anna")


def _deal(owner):
    return DealFactory(owner=owner, title="Big deal")


def _activity(owner):
    return ActivityFactory(owner=owner, subject="Call back")


def _note(owner):
    return ActivityFactory(owner=owner, subject="Met at fair", type=activity_type("note"))


RESOURCES = {
    "companies": (_company, "api:companies", "api:company", {"industry": "Tools"}),
    "contacts": (_contact, "api:contacts", "api:contact", {"title": "CTO"}),
    "deals": (_deal, "api:deals", "api:deal", {"title": "Bigger deal"}),
    "activities": (_activity, "api:activities", "api:activity", {"subject": "Call again"}),
    "notes": (_note, "api:notes", "api:note", {"body": "More notes"}),
}
# Who sees what: teammates read, only the owner (and admins, managers) change; outsiders get 404.
READ = {"owner": 200, "teammate": 200, "outsider": 404, "admin": 200}
WRITE = {"owner": 200, "teammate": 403, "outsider": 404, "admin": 200}


@pytest.mark.parametrize("who", ["owner", "teammate", "outsider", "admin"])
def test_a_contact_search_finds_only_what_the_caller_may_read(who, owner, teammate, outsider, api_clients):
    """``GET /api/contacts/?q=``: the search states the caller's access as the search index's
    owner condition (``ARRAY[owner_id] &&``, not ``visible_to``'s); the matrix holds."""
    people = {"owner": owner, "teammate": teammate, "outsider": outsider}
    made = {
        name: ContactFactory(owner=person, first_name="Anna", last_name="Smithson") for name, person in people.items()
    }
    ContactFactory(owner=owner, first_name="Boris", last_name="Jones")
    listed = api_clients[who].get(reverse("api:contacts"), {"q": "smith"})
    assert listed.status_code == 200
    found = {row["id"] for row in listed.json()["results"]}
    visible = {"owner": {"owner", "teammate"}, "teammate": {"owner", "teammate"}, "outsider": {"outsider"}}
    expected = set(made) if who == "admin" else visible[who]
    assert found == {made[name].pk for name in expected}


@pytest.mark.parametrize("resource", RESOURCES)
@pytest.mark.parametrize("who", ["owner", "teammate", "outsider", "admin"])
def test_it_follows_the_access_matrix(resource, who, owner, api_clients):
    make, list_name, detail_name, change = RESOURCES[resource]
    record = make(owner)
    client = api_clients[who]

    listed = client.get(reverse(list_name))
    assert listed.status_code == 200
    ids = [row["id"] for row in listed.json()["results"]]
    assert (record.pk in ids) is (READ[who] == 200)

    detail = client.get(reverse(detail_name, args=[record.pk]))
    assert detail.status_code == READ[who]
    if READ[who] == 404:
        assert detail.json()["error"] == "not_found"

    patched = client.patch(reverse(detail_name, args=[record.pk]), {**change, "version": record.version}, format="json")
    assert patched.status_code == WRITE[who], patched.json()
    record.refresh_from_db()
    field, value = next(iter(change.items()))
    assert (getattr(record, field) == value) is (WRITE[who] == 200)


@pytest.mark.parametrize(
    ("make", "url_name"),
    [(_company, "api:company-archive"), (_contact, "api:contact-archive")],
)
@pytest.mark.parametrize("who", ["owner", "teammate", "outsider", "admin"])
def test_archive_follows_the_access_matrix(make, url_name, who, owner, api_clients):
    record = make(owner)
    response = api_clients[who].post(reverse(url_name, args=[record.pk]))
    assert response.status_code == WRITE[who]
    record.refresh_from_db()
    assert (record.archived_at is not None) is (WRITE[who] == 200)


@pytest.mark.parametrize("who", ["owner", "teammate", "outsider", "admin"])
def test_deal_move_follows_the_access_matrix(who, owner, api_clients):
    deal = _deal(owner)
    target = stage(deal.pipeline, "Proposal")
    response = api_clients[who].post(reverse("api:deal-move", args=[deal.pk]), {"stage": target.pk}, format="json")
    assert response.status_code == WRITE[who]
    deal.refresh_from_db()
    assert (deal.stage_id == target.pk) is (WRITE[who] == 200)


@pytest.mark.parametrize("who", ["owner", "teammate", "outsider", "admin"])
def test_activity_delete_follows_the_access_matrix(who, owner, api_clients):
    from activities.models import Activity

    record = _activity(owner)
    response = api_clients[who].delete(reverse("api:activity", args=[record.pk]))
    assert response.status_code == {"owner": 204, "teammate": 403, "outsider": 404, "admin": 204}[who]
    assert Activity.objects.filter(pk=record.pk).exists() is (response.status_code != 204)


def test_a_read_token_reads_but_cannot_write(owner):
    client = token_client(owner, scope=TokenScope.READ)
    company = _company(owner)
    assert client.get(reverse("api:company", args=[company.pk])).status_code == 200
    response = client.patch(reverse("api:company", args=[company.pk]), {"name": "X", "version": 1}, format="json")
    assert response.status_code == 403
    assert response.json()["error"] == "permission_denied"
    assert client.post(reverse("api:companies"), {"name": "New"}, format="json").status_code == 403
    company.refresh_from_db()
    assert company.name == "Acme Widgets"


def test_an_outsiders_record_cannot_be_linked(owner, outsider, api_clients):
    foreign = _company(outsider)
    response = api_clients["owner"].post(
        reverse("api:contacts"), {"last_name": "Smith", "company": foreign.pk}, format="json"
    )
    assert response.status_code == 400
    assert "company" in response.json()["fields"]


def test_a_teammate_cannot_move_an_owners_deal_to_won(owner, api_clients):
    deal = _deal(owner)
    won = stage(make_pipeline(), "Won")
    response = api_clients["teammate"].post(reverse("api:deal-move", args=[deal.pk]), {"stage": won.pk}, format="json")
    assert response.status_code == 403
