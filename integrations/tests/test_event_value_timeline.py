"""Business events in customer value, on the timeline (look and filters), and the Unmatched
events page's link / create-company flows."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db.models import F
from django.template import Context, Template
from django.test import RequestFactory
from django.urls import reverse

from activities.models import TimelineEvent
from contacts.models import Company
from contacts.tests.factories import CompanyFactory, ContactFactory
from crm.versioning import VersionConflict
from deals.models import Deal, ExchangeRate, StageChange
from deals.services import deal_move_stage
from deals.tests.factories import DealFactory, stage
from integrations.events import events_ingest
from integrations.models import BusinessEvent, EventType, RevenueEffect
from integrations.tests.conftest import token_client
from reports.models import CohortCell, CustomerValue
from reports.services import customer_value_recompute, rollups_rebuild
from reports.tests.factories import deal_with_history, sales_pipeline

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 30, 12, 0, tzinfo=dt.UTC)


def at(y: int, m: int, d: int) -> dt.datetime:
    return dt.datetime(y, m, d, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def types(db):
    return {
        "invoice_paid": EventType.objects.create(
            key="invoice_paid", name="Invoice paid", icon="bi-receipt", color="#198754", revenue_effect="revenue"
        ),
        "refund_issued": EventType.objects.create(
            key="refund_issued",
            name="Refund issued",
            icon="bi-arrow-return-left",
            color="#dc3545",
            revenue_effect=RevenueEffect.REFUND,
        ),
        "ticket_opened": EventType.objects.create(
            key="ticket_opened", name="Ticket opened", icon="bi-life-preserver", color="#0d6efd"
        ),
    }


def item(n: str, type_: str, when: dt.datetime, customer: dict, amount=None, currency="", source="erp", **kw):
    return {
        "source": source,
        "external_id": n,
        "type": type_,
        "occurred_at": when,
        "title": kw.pop("title", f"{type_} {n}"),
        "amount": Decimal(amount) if amount is not None else None,
        "currency": currency,
        "customer": customer,
        "data": kw.pop("data", {}),
    }


def ingest(user, *items):
    return events_ingest(user=user, items=list(items), invalid={})


# --- Customer value -------------------------------------------------------------------------


@pytest.fixture
def value_world(owner, settings, types):
    """Today 2026-06-30, USD base, EUR 1.10 from 2026-01-01 and 1.20 from 2026-05-01.

    A: won deal 1000 USD on 2026-02-10; invoice 500 EUR 2026-03-15 (→ 550.00); invoice
       200 USD 2026-06-01; refund 100 EUR 2026-05-20 (→ −120.00); a ticket with an amount
       (no revenue effect) and an unmatched invoice, neither counted.
    B: invoices only: 300 USD 2025-11-05; a refund of 50 USD 2026-04-10; an invoice of
       5000 USD dated 2026-08-01, after "today", not counted yet.
    """
    settings.BASE_CURRENCY = "USD"
    settings.RFM_WINDOW_MONTHS = 12
    settings.CUSTOMER_LIFESPAN_YEARS = 3
    settings.CHURN_MIN_CUSTOMERS = 20
    ExchangeRate.objects.create(currency="EUR", date=dt.date(2026, 1, 1), rate=Decimal("1.10"))
    ExchangeRate.objects.create(currency="EUR", date=dt.date(2026, 5, 1), rate=Decimal("1.20"))
    _pipeline, s = sales_pipeline()
    a = CompanyFactory(owner=owner, name="A", domain="a.example")
    b = CompanyFactory(owner=owner, name="B", domain="b.example")
    deal_with_history(
        owner=owner, company=a, amount=1000, moves=[(s["Lead"], at(2026, 1, 20)), (s["Won"], at(2026, 2, 10))]
    )
    ref_a, ref_b = {"domain": "a.example"}, {"domain": "b.example"}
    results = ingest(
        owner,
        item("I-1", "invoice_paid", at(2026, 3, 15), ref_a, "500", "EUR"),
        item("I-2", "invoice_paid", at(2026, 6, 1), ref_a, "200", "USD"),
        item("R-1", "refund_issued", at(2026, 5, 20), ref_a, "100", "EUR"),
        item("T-1", "ticket_opened", at(2026, 6, 2), ref_a, "75", "USD"),
        item("I-9", "invoice_paid", at(2026, 6, 3), {"domain": "nobody.example"}, "999", "USD"),
        item("I-3", "invoice_paid", at(2025, 11, 5), ref_b, "300", "USD"),
        item("R-2", "refund_issued", at(2026, 4, 10), ref_b, "-50", "USD"),
        # Dated after "today": left out until its day comes (no negative recency).
        item("I-F", "invoice_paid", at(2026, 8, 1), ref_b, "5000", "USD"),
    )
    assert all(r.status == "created" for r in results)
    rollups_rebuild()
    customer_value_recompute(now=NOW)
    return {"a": a, "b": b}


def test_revenue_events_count_in_customer_value_and_refunds_subtract(value_world):
    a = CustomerValue.objects.get(company=value_world["a"])
    # 1000 (deal) + 550 (500 EUR × 1.10 on 03-15) + 200 − 120 (100 EUR × 1.20 on 05-20)
    assert a.revenue_total == Decimal("1630.00")
    assert a.revenue_external == Decimal("630.00")
    assert (a.revenue_this_year, a.revenue_12m, a.monetary) == (Decimal("1630.00"),) * 3
    # Purchases: the deal and the two invoices; the refund and the ticket are none.
    assert (a.won_deals, a.frequency) == (3, 3)
    assert (a.first_won_on, a.last_won_on) == (dt.date(2026, 2, 10), dt.date(2026, 6, 1))
    assert a.average_deal == Decimal("543.33")
    # LTV = 1630 ÷ 3 × (3 purchases ÷ 1 year) × 3 years = 4890
    assert a.lifetime_value == Decimal("4890.00")
    assert a.quarters == {"2026-01-01": "1550.00", "2026-04-01": "80.00"}
    b = CustomerValue.objects.get(company=value_world["b"])
    assert (b.revenue_total, b.revenue_external, b.won_deals) == (Decimal("250.00"), Decimal("250.00"), 1)
    assert b.cohort_month == dt.date(2025, 11, 1)


def test_revenue_events_count_in_cohorts(value_world, owner):
    cells = {(c.cohort_month, c.quarter): (c.customers, c.revenue) for c in CohortCell.objects.filter(owner=owner)}
    assert cells == {
        # A, first purchase February: Feb 1000; Mar–May 550 − 120; June 200.
        (dt.date(2026, 2, 1), 0): (1, Decimal("1000.00")),
        (dt.date(2026, 2, 1), 1): (1, Decimal("430.00")),
        (dt.date(2026, 2, 1), 2): (1, Decimal("200.00")),
        # B, first purchase November: the April refund lowers quarter 2 but is no purchase.
        (dt.date(2025, 11, 1), 0): (1, Decimal("300.00")),
        (dt.date(2025, 11, 1), 2): (0, Decimal("-50.00")),
    }


def test_the_company_card_shows_what_came_from_other_systems(value_world, owner_client):
    html = owner_client.get(value_world["a"].get_absolute_url()).content.decode()
    assert "of which 630 from other systems" in html


def test_linking_an_unmatched_revenue_event_adds_it_at_the_next_recompute(value_world, owner_client):
    event = BusinessEvent.objects.get(external_id="I-9")
    response = owner_client.post(reverse("events:unmatched-link", args=[event.pk]), {"company": value_world["b"].pk})
    assert response.status_code == 302
    customer_value_recompute(now=NOW)
    b = CustomerValue.objects.get(company=value_world["b"])
    assert (b.revenue_total, b.revenue_external, b.won_deals) == (Decimal("1249.00"), Decimal("1249.00"), 2)


# --- Timeline look and filters --------------------------------------------------------------


def render_timeline(user, obj, key: str = "") -> str:
    request = RequestFactory().get("/")
    request.user = user
    return Template("{% load activity_tags %}{% customer_timeline obj %}").render(
        Context({"request": request, "obj": obj})
    )


@pytest.fixture
def timeline_world(owner, types):
    company = CompanyFactory(owner=owner, domain="acme.example")
    contact = ContactFactory(owner=owner, company=company, email="anna@acme.example")
    ingest(
        owner,
        item(
            "I-1",
            "invoice_paid",
            at(2026, 3, 1),
            {"domain": "acme.example"},
            "1200.50",
            "EUR",
            data={"invoice": "1001", "terms": "30 days", "nested": {"skip": 1}},
        ),
        item(
            "T-1",
            "ticket_opened",
            at(2026, 3, 2),
            {"email": "anna@acme.example"},
            source="helpdesk",
            title="Printer offline",
        ),
    )
    return {"company": company, "contact": contact}


def test_a_business_event_has_its_types_look_amount_source_and_data(owner, timeline_world):
    html = render_timeline(owner, timeline_world["company"])
    assert 'style="color: #198754"><i class="bi bi-receipt"' in html
    assert "1200.50 EUR" in html and "Invoice paid · erp" in html
    assert '<dt class="col-4 text-truncate">invoice</dt><dd class="col-8 mb-0 text-break">1001</dd>' in html
    assert "skip" not in html  # nested data is left out
    assert 'style="color: #0d6efd"><i class="bi bi-life-preserver"' in html and "Ticket opened · helpdesk" in html
    # The contact's page has its own event.
    contact_html = render_timeline(owner, timeline_world["contact"])
    assert "Printer offline" in contact_html and "1200.50" not in contact_html


@pytest.mark.parametrize(
    ("key", "shown", "hidden"),
    [
        ("kind-business_event", ["invoice_paid I-1", "Printer offline"], ["Note about acme"]),
        ("event-type-invoice_paid", ["invoice_paid I-1"], ["Printer offline", "Note about acme"]),
        ("event-source-helpdesk", ["Printer offline"], ["invoice_paid I-1", "Note about acme"]),
        ("activities", ["Note about acme"], ["invoice_paid I-1", "Printer offline"]),
        ("other", [], ["invoice_paid I-1", "Printer offline"]),
    ],
)
def test_the_timeline_filters_business_events_by_kind_type_and_source(
    owner, owner_client, timeline_world, key, shown, hidden
):
    from activities.services import activity_create
    from activities.tests.factories import activity_type

    activity_create(
        actor=owner, type=activity_type("note"), subject="Note about acme", company=timeline_world["company"], done=True
    )
    url = reverse("activities:timeline", args=["company", timeline_world["company"].pk])
    html = owner_client.get(url, {"type": key}).content.decode()
    for text in shown:
        assert text in html
    for text in hidden:
        assert text not in html
    assert f'<option value="{key}" selected>' in html or key in ("activities", "other")


def test_the_filter_select_lists_types_and_sources(owner, timeline_world):
    html = render_timeline(owner, timeline_world["company"])
    assert 'name="type" aria-label="Business events"' in html
    for option in (
        'value="kind-business_event">All business events',
        'value="event-type-refund_issued">Refund issued',
        'value="event-source-erp">From erp',
        'value="event-source-helpdesk">From helpdesk',
    ):
        assert option in html


def test_the_timeline_endpoint_with_event_filters_follows_record_access(
    timeline_world, teammate_client, outsider_client
):
    url = reverse("activities:timeline", args=["company", timeline_world["company"].pk])
    assert "Printer offline" in teammate_client.get(url, {"type": "kind-business_event"}).content.decode()
    assert outsider_client.get(url, {"type": "kind-business_event"}).status_code == 404


def test_a_timeline_full_of_business_events_costs_a_constant_number_of_queries(
    owner, types, django_assert_max_num_queries
):
    company = CompanyFactory(owner=owner, domain="many.example")
    ingest(
        owner,
        *[
            item(
                f"I-{n}",
                "invoice_paid" if n % 2 else "ticket_opened",
                at(2026, 1, 1) + dt.timedelta(hours=n),
                {"domain": "many.example"},
                "10",
                "USD",
                source=f"src{n % 3}",
            )
            for n in range(40)
        ],
    )
    # Activity types, business event types + sources (one query, then cached), the page.
    with django_assert_max_num_queries(3):
        html = render_timeline(owner, company)
    assert html.count('class="list-group-item timeline-event"') == 20
    with django_assert_max_num_queries(2):
        warm = render_timeline(owner, company)
    assert warm == html


def test_the_cached_types_and_sources_follow_new_types_and_new_sources(owner, types):
    company = CompanyFactory(owner=owner, domain="cache.example")
    assert "From newsrc" not in render_timeline(owner, company)  # now cached
    ingest(owner, item("N-1", "ticket_opened", at(2026, 1, 1), {"domain": "cache.example"}, source="newsrc"))
    assert 'value="event-source-newsrc">From newsrc' in render_timeline(owner, company)
    EventType.objects.create(key="late_type", name="Late type", icon="bi-clock", color="#123456")
    assert 'value="event-type-late_type">Late type' in render_timeline(owner, company)
    types["ticket_opened"].color = "#abcdef"
    types["ticket_opened"].save()
    assert 'style="color: #abcdef"><i class="bi bi-life-preserver"' in render_timeline(owner, company)


# --- Unmatched events: link, same-ref bulk, create company ------------------------------------


@pytest.fixture
def unmatched(owner, types):
    ingest(
        owner,
        item("U-1", "invoice_paid", at(2026, 3, 1), {"domain": "new.example"}, "100", "USD"),
        item("U-2", "invoice_paid", at(2026, 3, 2), {"domain": "new.example"}, "200", "USD"),
        item("U-3", "ticket_opened", at(2026, 3, 3), {"email": "x@other.example"}),
    )
    return {e.external_id: e for e in BusinessEvent.objects.all()}


@pytest.mark.parametrize(("who", "code"), [("owner", 200), ("teammate", 200), ("admin", 200), ("outsider", 404)])
def test_create_company_page_access(unmatched, who, code, owner_client, teammate_client, admin_client, outsider_client):
    client = {"owner": owner_client, "teammate": teammate_client, "admin": admin_client, "outsider": outsider_client}[
        who
    ]
    response = client.get(reverse("events:unmatched-create-company", args=[unmatched["U-1"].pk]))
    assert response.status_code == code
    if code == 200:
        html = response.content.decode()
        assert 'value="new.example"' in html  # name and domain prefilled from the reference
        assert "1 other unmatched event names the same customer." in html


@pytest.mark.parametrize(("who", "code"), [("owner", 302), ("teammate", 302), ("admin", 302), ("outsider", 404)])
def test_link_access(unmatched, who, code, owner_client, teammate_client, admin_client, outsider_client, owner):
    client = {"owner": owner_client, "teammate": teammate_client, "admin": admin_client, "outsider": outsider_client}[
        who
    ]
    company = CompanyFactory(owner=owner)
    response = client.post(reverse("events:unmatched-link", args=[unmatched["U-3"].pk]), {"company": company.pk})
    assert response.status_code == code
    unmatched["U-3"].refresh_from_db()
    assert (unmatched["U-3"].company_id == company.pk) is (code == 302)


def test_the_unmatched_page_offers_a_picker_create_and_same_ref(
    unmatched, owner, owner_client, django_assert_max_num_queries
):
    owner_client.get(reverse("events:unmatched"))  # the session and the user's teams cached
    # The user, the events with their type, sender and same-customer count, and the user's
    # unmatched emails: one query each for any number of rows.
    with django_assert_max_num_queries(3):
        html = owner_client.get(reverse("events:unmatched")).content.decode()
    assert html.count(f'hx-get="{reverse("contacts:company-options")}"') == 3  # a company picker per event
    assert html.count(f'hx-get="{reverse("contacts:contact-options")}"') == 3  # and a contact picker
    assert reverse("events:unmatched-create-company", args=[unmatched["U-1"].pk]) in html
    assert html.count("Also link 1 other event for this customer") == 2  # U-1 and U-2, not U-3


def test_the_unmatched_page_costs_the_same_queries_for_many_events(
    unmatched, owner, owner_client, django_assert_max_num_queries
):
    ingest(
        owner, *[item(f"M-{n}", "ticket_opened", at(2026, 4, 1), {"domain": f"m{n % 5}.example"}) for n in range(40)]
    )
    owner_client.get(reverse("events:unmatched"))
    with django_assert_max_num_queries(3):  # the user, the events, the unmatched emails
        html = owner_client.get(reverse("events:unmatched")).content.decode()
    assert html.count("Also link 7 other events for this customer") == 40


def test_linking_with_same_ref_links_the_others_for_that_customer(unmatched, owner, owner_client):
    company = CompanyFactory(owner=owner, name="New Co")
    response = owner_client.post(
        reverse("events:unmatched-link", args=[unmatched["U-1"].pk]), {"company": company.pk, "same_ref": "1"}
    )
    assert response.status_code == 302
    assert set(BusinessEvent.objects.filter(company=company).values_list("external_id", flat=True)) == {"U-1", "U-2"}
    assert TimelineEvent.objects.filter(company=company, kind="business_event").count() == 2
    assert BusinessEvent.objects.get(external_id="U-3").company_id is None


def test_linking_without_same_ref_links_only_that_event(unmatched, owner, owner_client):
    company = CompanyFactory(owner=owner)
    owner_client.post(reverse("events:unmatched-link", args=[unmatched["U-1"].pk]), {"company": company.pk})
    assert list(BusinessEvent.objects.filter(company=company).values_list("external_id", flat=True)) == ["U-1"]


def test_create_company_from_an_event_links_it_and_its_siblings(unmatched, teammate, teammate_client, types):
    url = reverse("events:unmatched-create-company", args=[unmatched["U-1"].pk])
    response = teammate_client.post(url, {"name": "New Example Ltd", "domain": "new.example", "same_ref": "on"})
    assert response.status_code == 302
    company = Company.objects.get(name="New Example Ltd")
    assert (company.owner, company.domain) == (teammate, "new.example")
    assert response["Location"] == company.get_absolute_url()
    assert BusinessEvent.objects.filter(company=company).count() == 2
    # The next event naming that domain matches the new company.
    ingest(teammate, item("U-4", "invoice_paid", at(2026, 3, 4), {"domain": "new.example"}, "5", "USD"))
    assert BusinessEvent.objects.get(external_id="U-4").company == company


def test_create_company_refuses_bad_input_with_400(unmatched, owner_client):
    url = reverse("events:unmatched-create-company", args=[unmatched["U-1"].pk])
    assert owner_client.post(url, {"name": "", "domain": "bad domain"}).status_code == 400
    assert owner_client.post(url, {"name": "X", "email": "not-an-email"}).status_code == 400
    assert not Company.objects.filter(name="X").exists()


def test_an_outsider_cannot_create_a_company_from_someone_elses_event(unmatched, outsider_client):
    url = reverse("events:unmatched-create-company", args=[unmatched["U-1"].pk])
    assert outsider_client.post(url, {"name": "Sneaky"}).status_code == 404
    assert not Company.objects.filter(name="Sneaky").exists()


def test_linking_to_a_company_the_user_may_not_see_is_refused(unmatched, outsider, owner_client):
    foreign = CompanyFactory(owner=outsider)
    response = owner_client.post(reverse("events:unmatched-link", args=[unmatched["U-1"].pk]), {"company": foreign.pk})
    assert response.status_code == 400
    unmatched["U-1"].refresh_from_db()
    assert unmatched["U-1"].company_id is None


def test_a_bad_company_id_is_400(unmatched, owner_client):
    response = owner_client.post(reverse("events:unmatched-link", args=[unmatched["U-1"].pk]), {"company": "²"})
    assert response.status_code == 400


# --- API deal move: the version is checked under the row lock ---------------------------------


def test_the_deal_move_checks_the_version_on_the_locked_row(owner):
    deal = DealFactory(owner=owner)
    won = stage(deal.pipeline, "Won")
    stale = Deal.objects.get(pk=deal.pk)
    # Someone saves between the API's read and the move's lock.
    Deal.objects.filter(pk=deal.pk).update(version=F("version") + 1)
    with pytest.raises(VersionConflict):
        deal_move_stage(deal=stale, stage=won, actor=owner, version=stale.version)
    deal.refresh_from_db()
    assert deal.stage_id == stale.stage_id
    assert not StageChange.objects.filter(deal=deal, to_stage=won).exists()


def test_the_api_move_with_the_current_version_moves_and_a_stale_one_is_409(owner):
    client = token_client(owner)
    deal = DealFactory(owner=owner)
    won = stage(deal.pipeline, "Won")
    url = reverse("api:deal-move", args=[deal.pk])
    stale = client.post(url, {"stage": won.pk, "version": deal.version - 1 or 999}, format="json")
    assert stale.status_code == 409 and stale.json()["error"] == "version_conflict"
    moved = client.post(url, {"stage": won.pk, "version": deal.version}, format="json")
    assert moved.status_code == 200 and moved.json()["status"] == "won"
    deal.refresh_from_db()
    assert deal.version == moved.json()["version"]


def test_the_contact_picker_offers_only_visible_active_contacts(owner, outsider, owner_client, outsider_client):
    mine = ContactFactory(owner=owner, first_name="Anna", last_name="Petrova", email="anna@acme.example")
    ContactFactory(owner=outsider, first_name="Anna", last_name="Foreign", email="anna@other.example")
    archived = ContactFactory(owner=owner, first_name="Anna", last_name="Gone")
    archived.archived_at = archived.created_at
    archived.save(update_fields=["archived_at"])
    url = reverse("contacts:contact-options")
    html = owner_client.get(url, {"contact_q": "anna"}).content.decode()
    assert f'<option value="{mine.pk}" selected>Anna Petrova &lt;anna@acme.example&gt;' in html
    assert "Foreign" not in html and "Gone" not in html
    assert "Petrova" not in outsider_client.get(url, {"contact_q": "anna"}).content.decode()
    assert owner_client.get(url).content.decode().count("<option") == 1  # nothing typed: nothing listed
    assert owner_client.get(url, {"contact_q": "a\x00"}).status_code == 400


def test_linking_to_a_contact_puts_the_event_on_its_and_its_companys_timeline(unmatched, owner, owner_client):
    company = CompanyFactory(owner=owner)
    contact = ContactFactory(owner=owner, company=company)
    response = owner_client.post(reverse("events:unmatched-link", args=[unmatched["U-3"].pk]), {"contact": contact.pk})
    assert response.status_code == 302
    unmatched["U-3"].refresh_from_db()
    assert (unmatched["U-3"].contact, unmatched["U-3"].company) == (contact, company)
    assert TimelineEvent.objects.filter(contact=contact, company=company, kind="business_event").count() == 1


def test_a_contact_of_another_company_than_the_one_chosen_is_refused(unmatched, owner, owner_client):
    company = CompanyFactory(owner=owner)
    elsewhere = ContactFactory(owner=owner, company=CompanyFactory(owner=owner))
    url = reverse("events:unmatched-link", args=[unmatched["U-3"].pk])
    response = owner_client.post(url, {"company": company.pk, "contact": elsewhere.pk})
    assert response.status_code == 400
    assert "does not work at that company" in response.content.decode()
    unmatched["U-3"].refresh_from_db()
    assert unmatched["U-3"].company_id is None


# --- Customer value refreshed for the customers a batch names (outbox → reports task) -------


def test_a_revenue_event_queues_a_refresh_that_updates_its_customer_at_once(value_world, owner):
    from crm.models import Outbox
    from reports.tasks import refresh_customer_value

    a, b = value_world["a"], value_world["b"]
    before_a = CustomerValue.objects.get(company=a)
    before_b = CustomerValue.objects.values().get(company=b)
    Outbox.objects.all().delete()
    c = CompanyFactory(owner=owner, name="C", domain="c.example")
    ingest(
        owner,
        item("I-10", "invoice_paid", at(2026, 6, 20), {"domain": "a.example"}, "1000", "USD"),
        item("I-11", "invoice_paid", at(2026, 6, 25), {"domain": "c.example"}, "400", "USD"),
        item("T-10", "ticket_opened", at(2026, 6, 26), {"domain": "b.example"}, "5", "USD"),  # no revenue
    )
    queued = list(Outbox.objects.values_list("task", "args"))
    assert queued == [("reports.tasks.refresh_customer_value", [sorted([a.pk, c.pk])])]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("django.utils.timezone.now", lambda: NOW)
        assert refresh_customer_value(queued[0][1][0]) == 2
    after = CustomerValue.objects.get(company=a)
    # 1630 + 1000; four purchases; LTV = 2630 ÷ 4 × 4 a year × 3 years
    assert (after.revenue_total, after.revenue_external, after.won_deals) == (
        Decimal("2630.00"),
        Decimal("1630.00"),
        4,
    )
    assert (after.last_won_on, after.lifetime_value) == (dt.date(2026, 6, 20), Decimal("7890.00"))
    assert after.quarters == {"2026-01-01": "1550.00", "2026-04-01": "1080.00"}
    # The scores stay as the last full run ranked them among all customers.
    assert (after.r_score, after.f_score, after.m_score, after.segment) == (
        before_a.r_score,
        before_a.f_score,
        before_a.m_score,
        before_a.segment,
    )
    new = CustomerValue.objects.get(company=c)
    assert (new.revenue_total, new.won_deals, new.segment, new.r_score) == (Decimal("400.00"), 1, "", None)
    assert CustomerValue.objects.values().get(company=b) == before_b  # not named: untouched


def test_linking_a_revenue_event_queues_the_refresh_of_its_customer(value_world, owner_client):
    from crm.models import Outbox

    Outbox.objects.all().delete()
    event = BusinessEvent.objects.get(external_id="I-9")
    owner_client.post(reverse("events:unmatched-link", args=[event.pk]), {"company": value_world["b"].pk})
    assert list(Outbox.objects.values_list("task", "args")) == [
        ("reports.tasks.refresh_customer_value", [[value_world["b"].pk]])
    ]


def test_the_refresh_does_nothing_before_the_first_full_run(owner, types):
    from reports.services import customer_value_refresh_companies

    company = CompanyFactory(owner=owner, domain="early.example")
    ingest(owner, item("E-1", "invoice_paid", at(2026, 1, 5), {"domain": "early.example"}, "10", "USD"))
    assert customer_value_refresh_companies(company_ids=[company.pk]) == 0
    assert not CustomerValue.objects.filter(company=company).exists()
