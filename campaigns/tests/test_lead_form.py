from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client

from activities.models import Activity
from campaigns.models import CampaignMember, ContactAttribution, LeadForm
from campaigns.tests.factories import campaign
from contacts.models import Contact

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_rate_limits(settings):
    """Forget this worker's lead-form counts only (the Redis database is shared by workers)."""
    client = cache._cache.get_client()
    keys = list(client.scan_iter(f"{settings.CACHES['default']['KEY_PREFIX']}:*rate:*web-lead*"))
    if keys:
        client.delete(*keys)


@pytest.fixture
def lead(owner, teammate, north):
    return LeadForm.objects.create(campaign=campaign(owner, channel="webinar"), team=north, title="Join the webinar")


GOOD = {
    "first_name": "Pat",
    "last_name": "Walker",
    "email": "Pat@Walker.example",
    "phone": "+49 30 901820",
    "company": "Walker GmbH",
    "message": "Please call me",
    "consent": "on",
}


def _stored() -> tuple[int, int, int]:
    return Contact.objects.count(), CampaignMember.objects.count(), Activity.objects.count()


def test_a_lead_becomes_a_contact_member_and_follow_up_task(lead, owner, teammate):
    client = Client(enforce_csrf_checks=True)
    assert client.get(lead.get_absolute_url()).status_code == 200
    response = client.post(lead.get_absolute_url(), GOOD)  # the snippet posts without a CSRF token
    assert response.status_code == 200 and "Thank you" in response.content.decode()
    person = Contact.objects.get()
    assert (person.email, person.source, person.owner) == ("pat@walker.example", "website", owner)
    member = CampaignMember.objects.get()
    assert member.status == "responded" and member.consented_at and member.consent_text == lead.consent_text
    task = Activity.objects.get()
    assert task.owner == owner and task.contact == person and task.done_at is None and "Walker GmbH" in task.body
    assert ContactAttribution.objects.get(contact=person).campaign == lead.campaign


def test_owners_take_turns(lead, owner, teammate):
    Client().post(lead.get_absolute_url(), GOOD)
    Client().post(lead.get_absolute_url(), {**GOOD, "first_name": "Sam", "last_name": "Other", "email": "s@o.example"})
    Client().post(lead.get_absolute_url(), {**GOOD, "first_name": "Lee", "last_name": "Third", "email": "l@t.example"})
    owners = list(Contact.objects.order_by("pk").values_list("owner__username", flat=True))
    assert owners == ["owner", "teammate", "owner"]


def test_a_known_person_is_updated_not_duplicated(lead, teammate):
    known = Contact.objects.create(
        first_name="Pat", last_name="Walker", email="pat@walker.example", owner=teammate, do_not_email=True
    )
    response = Client().post(lead.get_absolute_url(), GOOD)
    assert response.status_code == 200 and Contact.objects.count() == 1
    known.refresh_from_db()
    assert known.do_not_email is False and known.phone == "+4930901820"
    assert Activity.objects.get().owner == teammate


@pytest.mark.parametrize(
    "bad",
    [
        {"website": "http://spam.example"},
        {"last_name": "<script>alert(1)</script>"},
        {"company": "<img src=x onerror=alert(1)>"},
        {"email": "not-an-email"},
        {"consent": ""},
        {"last_name": "x" * 5000},
        {"message": "y" * 2001},
        {"first_name": "nul\x00byte"},
    ],
)
def test_bad_input_gets_400_and_stores_nothing(lead, bad):
    response = Client().post(lead.get_absolute_url(), {**GOOD, **bad})
    assert response.status_code == 400
    assert _stored() == (0, 0, 0)
    assert b"<script>alert(1)" not in response.content and b"<img src=x" not in response.content


def test_a_huge_body_is_refused_unread(lead):
    response = Client().post(lead.get_absolute_url(), {**GOOD, "message": "z" * 20000})
    assert response.status_code == 413 and _stored() == (0, 0, 0)


def test_a_flood_from_one_address_is_limited(lead, settings):
    settings.LEAD_FORM_LIMIT = 2
    client = Client(REMOTE_ADDR="203.0.113.9")
    statuses = [
        client.post(
            lead.get_absolute_url(), {**GOOD, "email": f"p{i}@x{i}.example", "last_name": f"Walker{i}", "phone": ""}
        ).status_code
        for i in range(4)
    ]
    assert statuses == [200, 200, 429, 429]
    assert Contact.objects.count() == 2


def test_an_inactive_or_unknown_form_is_404(lead):
    assert Client().get("/campaigns/lead/nope/").status_code == 404
    lead.active = False
    lead.save()
    assert Client().post(lead.get_absolute_url(), GOOD).status_code == 404
