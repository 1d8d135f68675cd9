"""Each request that used to answer 500 (issue #23), one test case per repro.

Malformed values answer 400 with the CRM's own page; values forms accept get a form error;
a ``next`` that is not a path on this site is ignored.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from contacts.models import Company
from deals.tests.factories import DealFactory, make_pipeline

pytestmark = pytest.mark.django_db

# Every report reads ?team=, ?owner= and ?pipeline= through reports/scope.py.
REPORT_PAGES = [
    "reports:funnel",
    "reports:funnel-csv",
    "reports:forecast",
    "reports:forecast-csv",
    "reports:accuracy",
    "reports:accuracy-csv",
    "reports:winloss",
    "reports:winloss-csv",
    "reports:velocity",
    "reports:velocity-csv",
    "reports:activity",
    "reports:activity-csv",
    "reports:customer-value",
    "reports:customer-value-csv",
    "reports:top-customers",
    "reports:top-customers-csv",
    "reports:cohorts",
    "reports:cohorts-csv",
    "reports:dormant",
    "reports:dormant-csv",
    "reports:cross-sell",
    "reports:cross-sell-csv",
]


def _client(user) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


@pytest.fixture
def pipeline(db):
    return make_pipeline()


@pytest.mark.parametrize(
    ("url", "params"),
    [
        ("/", {"user": "²"}),
        ("/activities/calendar/", {"team": "²"}),
        ("/activities/calendar/", {"user": "²"}),
        ("/reports/customers/top/", {"n": "²"}),
        ("/deals/new/", {"company": "²"}),
        ("/deals/new/", {"contact": "²"}),
        ("/deals/new/", {"pipeline": "²"}),
        ("/deals/contact-options/", {"company": "²"}),
        ("/contacts/new/", {"company": "²"}),
        ("/search/", {"q": "a\x00b"}),
        ("/companies/options/", {"company_q": "\x00"}),
        ("/tags/suggest/", {"tag": "\x00"}),
        ("/tags/suggest/", {"tags": "a, \x00"}),
        ("/activities/calendar/", {"date": "9999-12-31"}),
        ("/activities/calendar/", {"date": "0001-01-01"}),
        ("/activities/calendar/", {"date": "2025-02-30"}),
        ("/reports/forecast/", {"to": "0001-01"}),
        ("/reports/forecast/", {"from": "9999-12"}),
        ("/reports/forecast/", {"from": "2025-13"}),
    ],
)
def test_a_malformed_query_value_is_a_400_page_of_our_own(manager, pipeline, url, params):
    response = _client(manager).get(url, params)
    assert response.status_code == 400
    assert "That request could not be understood" in response.content.decode()
    assert 'href="/"' in response.content.decode()  # a way back into the app


@pytest.mark.parametrize("name", REPORT_PAGES)
@pytest.mark.parametrize("param", ["team", "owner", "pipeline"])
@pytest.mark.parametrize("value", ["²", "٣"])
def test_every_report_refuses_a_malformed_filter(manager, pipeline, name, param, value):
    assert _client(manager).get(reverse(name), {param: value}).status_code == 400


def test_a_date_the_filter_form_accepts_but_the_view_cannot_step_is_a_form_error(owner):
    response = _client(owner).get("/activities/", {"date_to": "9999-12-31"})
    assert response.status_code == 200
    assert response.context["form"].errors["date_to"] == ["Enter a date between 1900 and 2999."]


@pytest.mark.parametrize("value", ["²", "99999999999999999999", "a\x00b"])
def test_a_malformed_company_posted_to_the_deal_form_is_a_form_error(owner, pipeline, value):
    response = _client(owner).post("/deals/new/", {"title": "X", "company": value, "contacts": [value]})
    assert response.status_code == 200
    assert response.context["form"].errors["company"]


@pytest.mark.parametrize("value", ["²", "99999999999999999999", "a\x00b"])
def test_a_malformed_company_posted_to_the_contact_form_is_a_form_error(owner, value):
    response = _client(owner).post("/contacts/new/", {"last_name": "X", "company": value})
    assert response.status_code == 200
    assert response.context["form"].errors["company"]


def test_reassign_with_a_next_that_is_not_a_path_goes_back_to_the_list(owner):
    company = Company.objects.create(name="Acme", owner=owner)
    response = _client(owner).post("/companies/reassign/", {"ids": [company.pk], "owner": owner.pk, "next": "x"})
    assert response.status_code == 302
    assert response["Location"] == reverse("contacts:company-list")


@pytest.mark.parametrize("target", ["x", "//evil.example/", "https://evil.example/", "javascript:alert(1)"])
def test_a_stage_move_with_a_foreign_next_goes_to_the_deal(owner, pipeline, target):
    deal = DealFactory(owner=owner, pipeline=pipeline)
    stage = pipeline.stages.get(name="Qualified")
    response = _client(owner).post(reverse("deals:move", args=[deal.pk]), {"stage": stage.pk, "next": target})
    assert response.status_code == 302
    assert response["Location"] == deal.get_absolute_url()


def test_a_stage_move_follows_a_next_on_this_site(owner, pipeline):
    deal = DealFactory(owner=owner, pipeline=pipeline)
    stage = pipeline.stages.get(name="Qualified")
    board = reverse("deals:board", args=[pipeline.pk])
    response = _client(owner).post(reverse("deals:move", args=[deal.pk]), {"stage": stage.pk, "next": board})
    assert response["Location"] == board


def test_a_move_form_posted_with_a_field_named_items_renders(owner, pipeline):
    """The template used to loop over ``request.POST.items``, which a POST field named "items" replaced."""
    deal = DealFactory(owner=owner, pipeline=pipeline)
    response = _client(owner).post(reverse("deals:move", args=[deal.pk]), {"items": "²", "owner": str(owner.pk)})
    assert response.status_code == 400  # the form's error: no stage chosen
    assert response.context["form"].errors["stage"]


def test_a_calendar_feed_token_with_a_nul_is_a_404(client):
    assert Client(raise_request_exception=False).get("/activities/calendar/a%00b.ics").status_code == 404


@pytest.mark.parametrize("url", ["/admin/contacts/company/add/", "/admin/contacts/contact/add/"])
def test_admin_redraws_a_form_with_a_malformed_autocomplete_value(admin_user, url):
    response = _client(admin_user).post(url, {"name": "a\x00b", "last_name": "X", "owner": "²", "tags": ["²"]})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["owner"]


@pytest.mark.parametrize("model", ["contacts/company", "contacts/contact", "deals/deal"])
def test_admin_history_with_malformed_ids_is_a_404(admin_user, model):
    assert _client(admin_user).get(f"/admin/{model}/x%C2%B2/history/a%00b/").status_code == 404
