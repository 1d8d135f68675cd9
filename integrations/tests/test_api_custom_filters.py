"""The API lists filter by custom fields with the lists' parameters (``cf_<key>``,
``cf_<key>_from``/``_to``), within what the token's user may see; bad values are a 400."""

import pytest
from django.urls import reverse

from contacts.tests.factories import CompanyFactory, ContactFactory
from crm import custom_fields
from crm.models import CustomField
from deals.tests.factories import DealFactory


@pytest.fixture
def fields(db):
    made = [
        CustomField.objects.create(
            model=model, key="region", label="Region", field_type="choice", choices=["EMEA", "APAC"]
        )
        for model in ("contacts.company", "contacts.contact", "deals.deal")
    ]
    made.append(CustomField.objects.create(model="contacts.company", key="renewal", label="Renewal", field_type="date"))
    made.append(
        CustomField.objects.create(
            model="contacts.company", key="topics", label="Topics", field_type="multi_choice", choices=["A", "B"]
        )
    )
    custom_fields.forget_definitions()
    yield made
    custom_fields.forget_definitions()


def _ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


@pytest.mark.parametrize(
    ("url_name", "make"),
    [
        ("api:companies", lambda owner, custom: CompanyFactory(owner=owner, custom=custom)),
        ("api:contacts", lambda owner, custom: ContactFactory(owner=owner, custom=custom)),
        ("api:deals", lambda owner, custom: DealFactory(owner=owner, custom=custom)),
    ],
)
def test_a_choice_filter_lists_exactly_the_matching_records_the_user_may_see(
    fields, url_name, make, owner, outsider, api_clients
):
    emea = make(owner, {"region": "EMEA"})
    make(owner, {"region": "APAC"})
    make(owner, {})
    hidden = make(outsider, {"region": "EMEA"})
    assert _ids(api_clients["owner"].get(reverse(url_name), {"cf_region": "EMEA"})) == {emea.pk}
    assert _ids(api_clients["teammate"].get(reverse(url_name), {"cf_region": "EMEA"})) == {emea.pk}
    assert _ids(api_clients["outsider"].get(reverse(url_name), {"cf_region": "EMEA"})) == {hidden.pk}
    assert _ids(api_clients["admin"].get(reverse(url_name), {"cf_region": "EMEA"})) == {emea.pk, hidden.pk}


def test_a_date_range_and_a_choice_of_several(fields, owner, api_clients):
    june = CompanyFactory(owner=owner, custom={"renewal": "2027-06-15", "topics": ["A", "B"]})
    CompanyFactory(owner=owner, custom={"renewal": "2027-07-01", "topics": ["B"]})
    CompanyFactory(owner=owner)
    client = api_clients["owner"]
    url = reverse("api:companies")
    assert _ids(client.get(url, {"cf_renewal_from": "2027-06-01", "cf_renewal_to": "2027-06-30"})) == {june.pk}
    assert _ids(client.get(url, {"cf_topics": "A"})) == {june.pk}
    assert len(_ids(client.get(url, {"cf_renewal_from": "2027-06-01"}))) == 2


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"cf_region": "Mars"}, "cf_region"),  # not one of the choices
        ({"cf_renewal_from": "June"}, "cf_renewal_from"),  # not a date
        ({"cf_renewal_to": "0001-01-01"}, "cf_renewal_to"),  # outside the supported years
        ({"cf_region": "EMEA\x00"}, "cf_region"),
        ({"cf_regoin": "EMEA"}, "cf_regoin"),  # misspelt: never "every record"
        ({"cf_renewal": "2027-06-01"}, "cf_renewal"),  # a date filters by a range only
    ],
)
def test_a_bad_filter_is_a_400_naming_the_parameter(fields, owner, api_clients, params, field):
    CompanyFactory(owner=owner, custom={"region": "EMEA"})
    response = api_clients["owner"].get(reverse("api:companies"), params)
    assert response.status_code == 400
    assert field in response.json().get("errors", response.json()) or field in response.content.decode()


def test_a_filtered_list_issues_a_constant_number_of_queries(fields, owner, api_clients, django_assert_max_num_queries):
    for _ in range(30):
        CompanyFactory(owner=owner, custom={"region": "EMEA"})
    client = api_clients["owner"]
    url = reverse("api:companies")
    client.get(url, {"cf_region": "EMEA"})  # the token's use and the definitions' cache
    with django_assert_max_num_queries(4):
        response = client.get(url, {"cf_region": "EMEA", "cf_renewal_from": "2027-01-01", "limit": 25})
    assert response.status_code == 200
