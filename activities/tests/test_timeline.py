from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.template import Context, Template
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from activities import services
from activities.models import TimelineEvent
from activities.selectors import TIMELINE_PAGE_SIZE, encode_cursor
from activities.tests.factories import ActivityFactory, CompanyFactory, ContactFactory, DealFactory, activity_type
from contacts.signals import customer_event

pytestmark = pytest.mark.django_db


def render(template: str, user, **context) -> str:
    request = RequestFactory().get("/")
    request.user = user
    request.htmx = False
    return Template("{% load activity_tags %}" + template).render(Context({"request": request, **context}))


@pytest.fixture
def company(owner):
    return CompanyFactory(owner=owner, name="Northwind")


class TestReceiver:
    def test_every_customer_event_becomes_a_timeline_entry(self, owner, company):
        deal = DealFactory(owner=owner, company=company)
        customer_event.send(
            sender=None, kind="stage_change", title="Moved to Proposal", actor=owner, deal=deal, data={"to": "Proposal"}
        )
        event = TimelineEvent.objects.get(kind="stage_change")
        assert event.deal == deal and event.company == company and event.actor == owner
        assert event.data == {"to": "Proposal"}

    def test_events_from_other_systems_keep_their_kind_and_source(self, owner, company):
        at = timezone.now() - timedelta(days=3)
        customer_event.send(
            sender=None, kind="invoice_paid", title="Invoice 42 paid", company=company, occurred_at=at, source="billing"
        )
        event = TimelineEvent.objects.get(kind="invoice_paid")
        assert event.source == "billing" and event.occurred_at == at
        html = render("{% customer_timeline company %}", owner, company=company)
        assert "Invoice 42 paid" in html and "Invoice paid · billing" in html


class TestCustomerTimelineTag:
    def test_a_companys_timeline_includes_its_contacts_and_deals_events_newest_first(self, owner, company):
        contact = ContactFactory(owner=owner, company=company)
        deal = DealFactory(owner=owner, company=company)
        other = CompanyFactory(owner=owner)
        now = timezone.now()
        services.timeline_record(
            kind="merge", title="Merged duplicate", company=company, occurred_at=now - timedelta(3)
        )
        services.timeline_record(
            kind="import", title="Imported contact", contact=contact, occurred_at=now - timedelta(2)
        )
        services.timeline_record(kind="deal_won", title="Deal won", deal=deal, occurred_at=now - timedelta(1))
        services.timeline_record(kind="merge", title="Someone else", company=other)
        html = render("{% customer_timeline company %}", owner, company=company)
        assert html.index("Deal won") < html.index("Imported contact") < html.index("Merged duplicate")
        assert "Someone else" not in html

    def test_a_contact_moved_to_the_company_brings_its_history(self, owner, company):
        contact = ContactFactory(owner=owner, company=CompanyFactory(owner=owner))
        services.timeline_record(kind="import", title="Old history", contact=contact)
        contact.company = company
        contact.save()
        assert "Old history" in render("{% customer_timeline company %}", owner, company=company)

    def test_contact_and_deal_timelines_show_their_own_events(self, owner, company):
        contact = ContactFactory(owner=owner, company=company)
        deal = DealFactory(owner=owner, company=company)
        services.timeline_record(kind="import", title="Contact imported", contact=contact)
        services.timeline_record(kind="stage_change", title="Deal moved", deal=deal)
        contact_html = render("{% customer_timeline contact %}", owner, contact=contact)
        deal_html = render("{% customer_timeline deal %}", owner, deal=deal)
        assert "Contact imported" in contact_html and "Deal moved" not in contact_html
        assert "Deal moved" in deal_html and "Contact imported" not in deal_html

    def test_it_shows_activities_with_safe_notes(self, owner, company):
        services.activity_create(
            actor=owner,
            type=activity_type("note"),
            subject="Budget call notes",
            body='<img src=x onerror="alert(1)"> https://example.com/plan',
            company=company,
            done=True,
        )
        html = render("{% customer_timeline company %}", owner, company=company)
        assert "Budget call notes" in html
        assert "<img src=x" not in html
        assert 'href="https://example.com/plan"' in html

    def test_it_filters_by_type_via_htmx(self, owner_client, owner, company):
        services.activity_create(actor=owner, type=activity_type("call"), subject="A call", company=company, done=True)
        services.timeline_record(kind="merge", title="A merge", company=company)
        url = reverse("activities:timeline", args=["company", company.pk])
        calls = owner_client.get(url, {"type": "type-call"}).content.decode()
        assert "A call" in calls and "A merge" not in calls
        merges = owner_client.get(url, {"type": "merge"}).content.decode()
        assert "A merge" in merges and "A call" not in merges
        everything = owner_client.get(url, {"type": "nonsense"}).content.decode()
        assert "A merge" in everything and "A call" in everything

    def test_it_pages_with_a_cursor(self, owner_client, owner, company):
        now = timezone.now()
        for i in range(TIMELINE_PAGE_SIZE + 5):
            services.timeline_record(
                kind="import", title=f"Event {i:02d}", company=company, occurred_at=now - timedelta(minutes=i)
            )
        first = render("{% customer_timeline company %}", owner, company=company)
        assert "Event 00" in first and f"Event {TIMELINE_PAGE_SIZE - 1:02d}" in first
        assert f"Event {TIMELINE_PAGE_SIZE:02d}" not in first and "Show older" in first
        page = TimelineEvent.objects.order_by("-occurred_at")[TIMELINE_PAGE_SIZE - 1]
        cursor = encode_cursor(page.occurred_at, page.pk)
        rest = owner_client.get(reverse("activities:timeline", args=["company", company.pk]), {"cursor": cursor})
        html = rest.content.decode()
        assert f"Event {TIMELINE_PAGE_SIZE:02d}" in html and "Event 24" in html
        assert f"Event {TIMELINE_PAGE_SIZE - 1:02d}" not in html and "Show older" not in html

    def test_the_timeline_endpoint_follows_the_records_access(
        self, teammate_client, outsider_client, manager_client, company
    ):
        url = reverse("activities:timeline", args=["company", company.pk])
        assert teammate_client.get(url).status_code == 200
        assert manager_client.get(url).status_code == 200
        assert outsider_client.get(url).status_code == 404
        assert teammate_client.get(reverse("activities:timeline", args=["user", company.pk])).status_code == 404

    def test_its_query_count_is_constant(self, owner, company, django_assert_max_num_queries):
        contact = ContactFactory(owner=owner, company=company)
        deal = DealFactory(owner=owner, company=company)
        for i in range(50):
            services.activity_create(
                actor=owner, type=activity_type("call"), subject=f"Call {i}", contact=contact, deal=deal, done=True
            )
        # The types, then the page: a company's three scopes (its own, its contacts', its deals')
        # in one query; +1 while the registered kinds' cache (business event types and
        # sources) is cold.
        with django_assert_max_num_queries(3):
            html = render("{% customer_timeline company %}", owner, company=company)
        assert html.count('class="list-group-item timeline-event"') == TIMELINE_PAGE_SIZE


class TestLogActivityFormTag:
    def test_it_renders_an_htmx_form_for_the_record(self, owner, company):
        html = render("{% log_activity_form company %}", owner, company=company)
        assert f'value="company:{company.pk}"' in html
        assert 'hx-post="/activities/log/"' in html
        assert "Meeting" in html and "Task" in html

    def test_it_can_start_with_a_given_type(self, owner, company):
        html = render('{% log_activity_form company "task" %}', owner, company=company)
        assert 'name="due_at"' in html and 'value="task"' in html


class TestNextActivityMap:
    def test_it_finds_each_deals_next_open_activity_in_one_query(self, owner):
        deals = [DealFactory(owner=owner) for _ in range(5)]
        now = timezone.now()
        for deal in deals:
            ActivityFactory(owner=owner, deal=deal, subject=f"Later {deal.pk}", due_at=now + timedelta(days=2))
            ActivityFactory(owner=owner, deal=deal, subject=f"Next {deal.pk}", due_at=now + timedelta(days=1))
            ActivityFactory(owner=owner, deal=deal, subject=f"Done {deal.pk}", due_at=now, done_at=now)
        with CaptureQueriesContext(connection) as queries:
            template = (
                "{% next_activity_map deals as next %}{% for d in deals %}{% next_activity_badge next d %}{% endfor %}"
            )
            html = render(template, owner, deals=deals)
        assert len(queries) == 1
        for deal in deals:
            assert f"Next {deal.pk}" in html and f"Later {deal.pk}" not in html

    def test_a_deal_without_open_activities_says_so(self, owner):
        deal = DealFactory(owner=owner)
        html = render(
            "{% next_activity_map deals as next %}{% next_activity_badge next deal %}",
            owner,
            deals=[deal.pk],
            deal=deal,
        )
        assert "No next activity" in html

    def test_the_board_cards_show_each_deals_next_open_activity(self, owner, owner_client):
        deal = DealFactory(owner=owner)
        now = timezone.now()
        ActivityFactory(owner=owner, deal=deal, subject="Later call", due_at=now + timedelta(days=2))
        upcoming = ActivityFactory(owner=owner, deal=deal, subject="Send <terms>", due_at=now + timedelta(days=1))
        ActivityFactory(owner=owner, deal=deal, subject="Done call", due_at=now, done_at=now)
        html = owner_client.get(reverse("deals:board", args=[deal.pipeline_id])).content.decode()
        card = html[html.index(f'id="deal-card-{deal.pk}"') :]
        card = card[: card.index("</article>")]
        assert f'href="{upcoming.get_absolute_url()}">Send &lt;terms&gt;</a>' in card
        assert "Later call" not in card and "Done call" not in card


class TestDealStaleness:
    def test_completing_an_activity_on_a_deal_sets_its_last_activity(self, owner):
        deal = DealFactory(owner=owner)
        task = ActivityFactory(owner=owner, deal=deal, due_at=timezone.now())
        services.activity_set_done(activity=task, actor=owner)
        deal.refresh_from_db()
        task.refresh_from_db()
        assert deal.last_activity_at == task.done_at

    def test_an_older_activity_does_not_move_it_back(self, owner):
        later = timezone.now() + timedelta(hours=1)
        deal = DealFactory(owner=owner, last_activity_at=later)
        services.activity_create(actor=owner, type=activity_type("note"), subject="n", deal=deal, done=True)
        deal.refresh_from_db()
        assert deal.last_activity_at == later


def test_the_unfiltered_timeline_is_built_once_for_every_record_of_a_kind(owner, monkeypatch):
    """A record's page reads its timeline with SQL compiled once per process
    (``crm.compiled``): three companies' pages build the query twice (the first compile's
    check), not once per page, and each page still shows its own company's events."""
    from activities import selectors

    monkeypatch.setattr(selectors._UNFILTERED_TIMELINE, "_compiled", {})
    builds = []
    original = selectors._timeline_events
    monkeypatch.setattr(selectors, "_timeline_events", lambda *a, **k: builds.append(a[0]) or original(*a, **k))
    companies = [CompanyFactory(owner=owner, name=f"Company {n}") for n in range(3)]
    for n, company in enumerate(companies):
        contact = ContactFactory(owner=owner, company=company)
        services.timeline_record(kind="import", title=f"Imported for {n}", contact=contact)
    for n, company in enumerate(companies):
        html = render("{% customer_timeline company %}", owner, company=company)
        assert f"Imported for {n}" in html and all(f"Imported for {m}" not in html for m in range(3) if m != n)
    assert builds == ["company", "company"]
    filtered = selectors.timeline_page(companies[0], filter_key="import", types=[])
    assert [e.title for e in filtered.events] == ["Imported for 0"] and len(builds) == 3
