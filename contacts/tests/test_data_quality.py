"""The data-quality dashboard and the list filters its numbers link to."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from contacts.selectors import data_quality
from contacts.tests.factories import CompanyFactory, ContactFactory
from crm.tests.factories import UserFactory


@pytest.fixture
def records(owner, teammate, outsider, company):
    """The owner's and teammate's records with known gaps, and an outsider's."""
    ContactFactory(owner=owner, company=company, email="", phone="+14155552671")  # no email
    ContactFactory(owner=owner, company=None, phone="")  # no phone, no company
    ContactFactory(owner=owner, company=company, phone="ext. 12", phone_is_invalid=True)  # invalid phone
    ContactFactory(owner=teammate, company=company, email="", phone="")  # no email, no phone
    ContactFactory(owner=outsider, email="", phone="")
    CompanyFactory(owner=teammate, name="No Mail", email="", phone="+14155550100")
    CompanyFactory(owner=outsider, name="Elsewhere", email="", phone="")


def _row(rows, label):
    return next(row for row in rows if row.label == label)


def test_counts_per_owner_and_team_for_a_rep_cover_the_team(owner, records):
    quality = data_quality(owner)
    mine = _row(quality["owners"], "Olga Owner")
    assert mine.contacts | {} == mine.contacts  # a plain dict
    assert (mine.contacts["total"], mine.contacts["email"], mine.contacts["phone"]) == (3, 1, 1)
    assert (mine.contacts["company"], mine.contacts["invalid_phone"]) == (1, 1)
    teammate = _row(quality["owners"], "Tom Teammate")
    assert (teammate.contacts["email"], teammate.contacts["phone"]) == (1, 1)
    assert teammate.companies["total"] == 1 and teammate.companies["email"] == 1
    assert "Oscar Outsider" not in [row.label for row in quality["owners"]]
    north = _row(quality["teams"], "North")
    assert north.contacts["total"] == 4 and north.contacts["email"] == 2 and north.contacts["phone"] == 2
    assert [row.label for row in quality["teams"]] == ["North"]
    assert quality["totals"].contacts["total"] == 4


def test_average_completeness_is_weighted_by_records(owner, company):
    ContactFactory(owner=owner, completeness=100)
    ContactFactory(owner=owner, completeness=40)
    ContactFactory(owner=owner, completeness=40)
    assert _row(data_quality(owner)["owners"], "Olga Owner").contacts["average"] == 60


def test_admins_see_everyone_and_every_team(admin_user, records):
    quality = data_quality(admin_user)
    assert {"Olga Owner", "Tom Teammate", "Oscar Outsider"} <= {row.label for row in quality["owners"]}
    assert {"North", "South"} <= {row.label for row in quality["teams"]}
    assert quality["totals"].contacts["total"] == 5


def test_records_of_an_owner_who_left_count_as_missing_an_owner(admin_user):
    gone = UserFactory(username="gone", first_name="Gone", last_name="Away", is_active=False)
    ContactFactory(owner=gone)
    CompanyFactory(owner=gone)
    row = _row(data_quality(admin_user)["owners"], "Gone Away")
    assert row.contacts["owner"] == 1 and row.companies["owner"] == 1
    assert row.query == ""  # the list's owner filter offers active users only: link "missing=owner"


@pytest.mark.parametrize("who", ["owner", "teammate", "manager", "admin", "outsider"])
def test_the_dashboard_answers_everyone_in_their_scope_with_few_queries(
    client_for, records, who, django_assert_max_num_queries
):
    client = client_for(who)
    client.get(reverse("contacts:data-quality"))  # the login's session writes are not the page's
    with django_assert_max_num_queries(10):
        response = client.get(reverse("contacts:data-quality"))
    assert response.status_code == 200
    body = response.content.decode()
    assert ("Olga Owner" in body) is (who != "outsider")
    assert ("Oscar Outsider" in body) is (who in ("outsider", "admin"))


def test_each_count_links_to_the_list_filtered_to_exactly_those_records(owner_client, owner, records):
    body = owner_client.get(reverse("contacts:data-quality")).content.decode()
    link = f"{reverse('contacts:contact-list')}?owner={owner.pk}&amp;missing=email"
    assert link in body
    response = owner_client.get(reverse("contacts:contact-list"), {"owner": owner.pk, "missing": "email"})
    assert [c.email for c in response.context["page"].rows] == [""]
    assert len(response.context["page"].rows) == 1


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"missing": "email"}, 2),
        ({"missing": "phone"}, 2),
        ({"missing": "company"}, 1),
        ({"invalid_phone": "1"}, 1),
        ({"missing": "nonsense"}, 4),  # an unknown value is ignored, never passed on
    ],
)
def test_the_contact_list_filters_missing_data(owner_client, records, params, expected):
    response = owner_client.get(reverse("contacts:contact-list"), params)
    assert len(response.context["page"].rows) == expected


def test_the_company_list_filters_missing_data(teammate_client, records, company):
    response = teammate_client.get(reverse("contacts:company-list"), {"missing": "email"})
    names = {c.name for c in response.context["page"].rows}
    assert "No Mail" in names and "Elsewhere" not in names
    response = teammate_client.get(reverse("contacts:company-list"), {"missing": "phone"})
    assert {c.name for c in response.context["page"].rows} == set()


def test_filtering_the_list_costs_no_extra_query(owner_client, records):
    url = reverse("contacts:contact-list")
    owner_client.get(url)  # warm the per-process caches
    with CaptureQueriesContext(connection) as plain:
        owner_client.get(url)
    with CaptureQueriesContext(connection) as filtered:
        owner_client.get(url, {"missing": "email"})
    assert len(filtered.captured_queries) == len(plain.captured_queries)
