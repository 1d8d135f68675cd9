"""Writes through the services: versions, duplicates, validation, pagination, bad input."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from activities.tests.factories import ActivityFactory, activity_type
from contacts.models import Company, Contact
from contacts.tests.factories import CompanyFactory, ContactFactory
from deals.models import DealStatus, StageChange
from deals.tests.factories import DealFactory, LostReasonFactory, stage
from integrations.tests.conftest import token_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(owner):
    return token_client(owner)


def test_a_stale_version_is_409_with_the_current_record(client, owner):
    company = CompanyFactory(owner=owner, name="Acme")
    url = reverse("api:company", args=[company.pk])
    first = client.patch(url, {"industry": "Tools", "version": company.version}, format="json")
    assert first.status_code == 200
    assert first.json()["version"] == company.version + 1

    stale = client.patch(url, {"industry": "Food", "version": company.version}, format="json")
    assert stale.status_code == 409
    body = stale.json()
    assert body["error"] == "version_conflict"
    assert body["current"]["industry"] == "Tools"
    assert body["current"]["version"] == company.version + 1
    company.refresh_from_db()
    assert company.industry == "Tools"


def test_a_patch_without_version_is_400(client, owner):
    contact = ContactFactory(owner=owner)
    response = client.patch(reverse("api:contact", args=[contact.pk]), {"title": "CEO"}, format="json")
    assert response.status_code == 400
    assert "version" in response.json()["fields"]


def test_a_likely_duplicate_is_409_unless_forced(client, owner):
    existing = CompanyFactory(owner=owner, name="Northwind Traders", domain="northwind.com")
    payload = {"name": "Northwind Traders", "domain": "northwind.com"}
    response = client.post(reverse("api:companies"), payload, format="json")
    assert response.status_code == 409
    body = response.json()
    assert body["error"] == "possible_duplicate"
    assert body["candidates"][0]["id"] == existing.pk
    assert body["candidates"][0]["reasons"]
    assert Company.objects.count() == 1

    forced = client.post(reverse("api:companies"), {**payload, "force": True}, format="json")
    assert forced.status_code == 201
    assert Company.objects.count() == 2


def test_a_likely_duplicate_contact_is_409_unless_forced(client, owner):
    ContactFactory(owner=owner, first_name="Anna", last_name="Petrova", email="anna@example.com")
    payload = {"first_name": "Anna", "last_name": "Petrova", "email": "anna@example.com"}
    assert client.post(reverse("api:contacts"), payload, format="json").status_code == 409
    assert client.post(reverse("api:contacts"), {**payload, "force": True}, format="json").status_code == 201
    assert Contact.objects.filter(last_name="Petrova").count() == 2


def test_contact_create_goes_through_the_service(client, owner):
    company = CompanyFactory(owner=owner, name="Globex", country="DE")
    response = client.post(
        reverse("api:contacts"),
        {
            "first_name": "Hans",
            "last_name": "Muster",
            "phone": "030 1234567",
            "company": company.pk,
            "do_not_call": True,
            "tags": ["vip", "VIP"],
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    contact = Contact.objects.get(pk=response.json()["id"])
    assert contact.phone == "+49301234567"  # E.164 with the company's country
    assert contact.do_not_call is True
    assert contact.owner == owner
    assert [t.name for t in contact.tags.all()] == ["vip"]
    assert contact.history.count() == 1


def test_an_invalid_phone_is_400_unless_kept_as_typed(client):
    bad = client.post(reverse("api:contacts"), {"last_name": "X", "phone": "12"}, format="json")
    assert bad.status_code == 400
    assert "phone" in bad.json()["fields"]
    kept = client.post(
        reverse("api:contacts"), {"last_name": "X", "phone": "12", "keep_invalid_phone": True}, format="json"
    )
    assert kept.status_code == 201
    assert kept.json()["phone_is_invalid"] is True


def test_deal_moves_to_lost_need_a_reason_and_write_stage_history(client, owner):
    deal = DealFactory(owner=owner)
    lost = stage(deal.pipeline, "Lost")
    url = reverse("api:deal-move", args=[deal.pk])
    assert client.post(url, {"stage": lost.pk}, format="json").status_code == 400

    reason = LostReasonFactory()
    response = client.post(url, {"stage": lost.pk, "lost_reason": reason.pk, "lost_note": "Too dear"}, format="json")
    assert response.status_code == 200
    deal.refresh_from_db()
    assert deal.status == DealStatus.LOST
    assert deal.lost_reason == reason
    assert StageChange.objects.filter(deal=deal, to_stage=lost).exists()


def test_deal_move_with_a_stale_version_is_409(client, owner):
    deal = DealFactory(owner=owner)
    response = client.post(
        reverse("api:deal-move", args=[deal.pk]),
        {"stage": stage(deal.pipeline, "Won").pk, "version": deal.version + 5},
        format="json",
    )
    assert response.status_code == 409
    assert response.json()["current"]["stage"] == deal.stage_id


def test_deal_create_and_win(client, owner):
    created = client.post(reverse("api:deals"), {"title": "Pilot", "amount": "1200.50"}, format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["status"] == "open"
    won = stage(DealFactory._meta.model.objects.get(pk=body["id"]).pipeline, "Won")
    moved = client.post(reverse("api:deal-move", args=[body["id"]]), {"stage": won.pk}, format="json")
    assert moved.json()["status"] == "won"


def test_notes_are_activities_of_type_note(client, owner):
    company = CompanyFactory(owner=owner)
    response = client.post(reverse("api:notes"), {"subject": "Met", "company": company.pk}, format="json")
    assert response.status_code == 201
    assert response.json()["type"] == "note"
    assert response.json()["done"] is True
    listed = client.get(reverse("api:activities"), {"type": "note", "company": company.pk}).json()["results"]
    assert [row["id"] for row in listed] == [response.json()["id"]]


def test_activity_end_before_start_is_400(client):
    response = client.post(
        reverse("api:activities"),
        {"type": "meeting", "subject": "X", "due_at": "2030-01-02T10:00:00Z", "ends_at": "2030-01-02T09:00:00Z"},
        format="json",
    )
    assert response.status_code == 400
    assert "ends_at" in response.json()["fields"]


def test_pages_follow_updated_at_then_id_and_updated_since(client, owner):
    companies = [CompanyFactory(owner=owner, name=f"C{i}") for i in range(5)]
    base = timezone.now() - dt.timedelta(days=10)
    for i, company in enumerate(companies):
        Company.objects.filter(pk=company.pk).update(updated_at=base + dt.timedelta(hours=i // 2))
    seen = []
    url = reverse("api:companies") + "?limit=2"
    while url:
        page = client.get(url).json()
        seen += [row["id"] for row in page["results"]]
        url = page["next"]
    assert seen == [c.pk for c in companies]

    since = (base + dt.timedelta(hours=1)).isoformat()
    recent = client.get(reverse("api:companies"), {"updated_since": since}).json()["results"]
    assert [row["id"] for row in recent] == [c.pk for c in companies[2:]]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"updated_since": "yesterday"}, "updated_since"),
        ({"cursor": "!!!"}, "cursor"),
        ({"limit": "0"}, "limit"),
        ({"limit": "²"}, "limit"),
        ({"owner": "99999999999999999999"}, "owner"),
        ({"lifecycle_stage": "alien"}, "lifecycle_stage"),
        ({"q": "a\x00b"}, "q"),
    ],
)
def test_bad_query_parameters_are_400_naming_the_parameter(client, params, field):
    response = client.get(reverse("api:companies"), params)
    assert response.status_code == 400
    assert field in response.json()["fields"]


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        ("{not json", "application/json", "parse_error"),
        ('{"name": NaN}', "application/json", "parse_error"),
        ('{"name": "A", "colour": "red"}', "application/json", "invalid"),
        ('{"name": 5, "lifecycle_stage": ["x"]}', "application/json", "invalid"),
        ('{"name": "A\\u0000B"}', "application/json", "invalid"),
        ('{"name": "A", "owner": 99999999999999999999999}', "application/json", "invalid"),
        ('{"name": "A", "owner": true}', "application/json", "invalid"),
        ("[1, 2]", "application/json", "invalid"),
        ("name=A", "application/x-www-form-urlencoded", "unsupported_media_type"),
    ],
)
def test_bad_bodies_are_4xx_json(client, body, content_type, expected):
    response = client.generic("POST", reverse("api:companies"), body, content_type=content_type)
    assert 400 <= response.status_code < 500
    assert response.json()["error"] == expected
    assert Company.objects.count() == 0


def test_a_10_mb_body_is_413_json(client):
    body = json.dumps({"name": "A" * (10 * 1024 * 1024)})
    response = client.generic("POST", reverse("api:companies"), body, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["error"] == "body_too_large"


def test_a_huge_id_in_the_path_is_404(client):
    response = client.get("/api/v1/companies/99999999999999999999999/")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_the_schema_generates_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert "/api/v1/deals/{id}/move/" in (tmp_path / "schema.yaml").read_text()


def test_the_schema_is_served_to_a_token(client):
    response = client.get(reverse("api:schema"))
    assert response.status_code == 200
    assert b"openapi" in response.content


def test_the_docs_page_uses_local_files_and_no_inline_script(owner_client):
    response = owner_client.get(reverse("api:docs"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui-bundle.js" in html
    assert "<script>" not in html and "<style>" not in html
    assert "http://" not in html and "https://" not in html
    script = owner_client.get(reverse("api:docs") + "?script=")
    assert script.status_code == 200
    assert "SwaggerUIBundle" in script.content.decode()


@pytest.mark.parametrize(
    ("url_name", "make"),
    [
        ("api:companies", lambda o: CompanyFactory(owner=o)),
        ("api:contacts", lambda o: ContactFactory(owner=o)),
        ("api:deals", lambda o: DealFactory(owner=o)),
        ("api:activities", lambda o: ActivityFactory(owner=o)),
        ("api:notes", lambda o: ActivityFactory(owner=o, type=activity_type("note"))),
    ],
)
def test_list_query_counts_are_constant(client, owner, url_name, make, django_assert_max_num_queries):
    for _ in range(30):
        make(owner)
    client.get(reverse(url_name))  # records the token's use (written at most once a minute)
    # token, user (with access ids), page (tags or deal contacts in an array column): at most 3,
    # whatever the page size
    with django_assert_max_num_queries(3):
        response = client.get(reverse(url_name), {"limit": 25})
    assert len(response.json()["results"]) == 25
