"""The API measurements against a live server: the token contact list and the event ingest."""

import json
from types import SimpleNamespace
from urllib.parse import urlparse

import pytest

from activities.models import TimelineEvent
from bench import api_bench, pages, run
from bench.pages import Subjects
from contacts.tests.factories import CompanyFactory, ContactFactory
from integrations.models import ApiToken, BusinessEvent

pytestmark = pytest.mark.django_db(transaction=True)

SUBJECTS = Subjects(company_id=1, contact_id=2, deal_id=3, pipeline_id=1, common_term="x", rare_term="y")


@pytest.fixture
def server(live_server):
    return urlparse(live_server.url).port


def test_the_api_contact_list_is_measured_per_persona_through_a_token(server, owner, admin_user, monkeypatch):
    for i in range(3):
        ContactFactory(owner=owner, first_name=f"P{i}")
    answered = []

    # The live server has no timing middleware (bench/run.py turns it on in gunicorn's
    # environment): what is checked here is that each persona's token reaches the list.
    def measure_once(session, page, subjects, persona, args):
        response = session.request("GET", page.url(subjects))
        answered.append((persona, response.status, json.loads(response.body)["results"]))
        return run.PageResult(page.name, persona, url=page.url(subjects))

    monkeypatch.setattr(api_bench, "measure_page", measure_once)
    args = SimpleNamespace(warmup=1, requests=3, page_seconds=30, only=None)
    results = api_bench.measure_api_pages(
        server, {"rep": owner.username, "admin": admin_user.username}, {"rep": SUBJECTS, "admin": SUBJECTS}, args
    )
    assert [(r.page, r.persona, r.url) for r in results] == [
        ("API contact list", "rep", "/api/v1/contacts/?limit=50"),
        ("API contact list", "admin", "/api/v1/contacts/?limit=50"),
    ]
    assert [(persona, code, len(rows)) for persona, code, rows in answered] == [("rep", 200, 3), ("admin", 200, 3)]
    assert not ApiToken.objects.exists()  # the tokens are removed afterwards


def test_the_event_ingest_posts_batches_and_leaves_nothing_behind(server, owner, monkeypatch):
    for i in range(4):
        CompanyFactory(owner=owner, domain=f"c{i}.example")
    monkeypatch.setattr(
        pages, "EVENT_INGEST", pages.EventIngestBench(batches=3, batch_size=20, min_events_per_second=1)
    )
    result = api_bench.measure_event_ingest(server, owner.username)
    assert result["status"] == "ok", result
    assert (result["events"], result["batches"], result["batch_size"]) == (60, 3, 20)
    assert result["unmatched"] == 6  # every tenth names an unknown domain
    assert result["events_per_second"] > 0
    assert not BusinessEvent.objects.exists()
    assert not TimelineEvent.objects.filter(kind="business_event").exists()
    assert not ApiToken.objects.exists()


def test_an_ingest_below_the_budget_fails(server, owner, monkeypatch):
    CompanyFactory(owner=owner, domain="c.example")
    monkeypatch.setattr(
        pages, "EVENT_INGEST", pages.EventIngestBench(batches=1, batch_size=5, min_events_per_second=10**9)
    )
    result = api_bench.measure_event_ingest(server, owner.username)
    assert result["status"] == "over budget" and "events/s <" in result["problem"]
