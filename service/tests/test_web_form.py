from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client

from contacts.models import Contact
from service.models import Case, CaseWebForm
from service.tests.factories import policy

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_rate_limits(settings):
    """Forget this worker's web-form counts only: cache.clear() would empty the Redis database
    every pytest-xdist worker shares (their cached pages, throttles and sessions too)."""
    client = cache._cache.get_client()
    keys = list(client.scan_iter(f"{settings.CACHES['default']['KEY_PREFIX']}:*rate:*web-case*"))
    if keys:
        client.delete(*keys)


@pytest.fixture
def web(north, manager):
    policy(priority="high", first=30)
    return CaseWebForm.objects.create(team=north, priority="high")


GOOD = {"name": "Pat Walker", "email": "Pat@Walker.example", "subject": "Order never came", "description": "#123"}


def test_a_customer_opens_a_case_without_signing_in(web, north, manager):
    client = Client()
    assert client.get(web.get_absolute_url()).status_code == 200
    response = client.post(web.get_absolute_url(), GOOD)
    assert response.status_code == 200 and "we have your request" in response.content.decode()
    case = Case.objects.get()
    assert (case.team, case.channel, case.priority, case.assignee, case.created_by) == (
        north,
        "web",
        "high",
        None,
        None,
    )
    assert case.first_response_due_at is not None
    assert case.contact.email == "pat@walker.example" and case.contact.owner == manager
    assert (case.contact.first_name, case.contact.last_name) == ("Pat", "Walker")


def test_a_known_email_reuses_the_contact(web, owner):
    known = Contact.objects.create(first_name="Pat", last_name="Known", email="pat@walker.example", owner=owner)
    Client().post(web.get_absolute_url(), GOOD)
    assert Case.objects.get().contact == known and Contact.objects.count() == 1


def test_the_honeypot_refuses_and_stores_nothing(web):
    response = Client().post(web.get_absolute_url(), {**GOOD, "website": "http://spam.example"})
    assert response.status_code == 400
    assert not Case.objects.exists() and not Contact.objects.exists()


@pytest.mark.parametrize(
    "bad",
    [
        {"email": "not-an-address"},
        {"subject": ""},
        {"subject": "x" * 201},
        {"description": "x" * 5001},
        {"name": "a\x00b"},
    ],
)
def test_junk_is_a_400_and_stores_nothing(web, bad):
    response = Client().post(web.get_absolute_url(), {**GOOD, **bad})
    assert response.status_code == 400
    assert not Case.objects.exists() and not Contact.objects.exists()


def test_script_in_the_fields_is_shown_as_text(web, owner_client, north, owner):
    Client().post(web.get_absolute_url(), {**GOOD, "subject": "<script>alert(1)</script>"})
    case = Case.objects.get()
    case.assignee = owner
    case.save()
    html = owner_client.get(case.get_absolute_url()).content.decode()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_a_flood_from_one_address_is_limited(web, settings):
    settings.WEB_CASE_LIMIT = 3
    client = Client(REMOTE_ADDR="10.1.2.3")
    statuses = [client.post(web.get_absolute_url(), {**GOOD, "subject": f"Try {i}"}).status_code for i in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    assert Case.objects.count() == 3
    assert Client(REMOTE_ADDR="10.9.9.9").post(web.get_absolute_url(), GOOD).status_code == 200


def test_an_unknown_or_inactive_form_is_404(web):
    assert Client().get("/cases/web/nope/").status_code == 404
    web.active = False
    web.save()
    assert Client().get(web.get_absolute_url()).status_code == 404
    assert Client().post(web.get_absolute_url(), GOOD).status_code == 404
