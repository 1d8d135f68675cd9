"""Custom fields end to end: definitions in admin, forms, pages, list filters and columns,
history, import, export, the API and the indexes that keep filtering fast."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.urls import reverse

from contacts.models import Company
from contacts.tests.factories import CompanyFactory
from crm import custom_fields
from crm.models import CustomField, CustomFieldModel, CustomFieldType
from deals.tests.factories import DealFactory
from integrations.tests.conftest import token_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def region(db):
    return CustomField.objects.create(
        model=CustomFieldModel.COMPANY,
        key="region",
        label="Region",
        field_type=CustomFieldType.CHOICE,
        choices=["EMEA", "Americas", "APAC"],
        position=1,
    )


@pytest.fixture
def renewal(db):
    return CustomField.objects.create(
        model=CustomFieldModel.COMPANY,
        key="contract_renewal_date",
        label="Contract renewal date",
        field_type=CustomFieldType.DATE,
        position=2,
    )


def _company_post(**extra):
    data = {"name": "Acme", "lifecycle_stage": "lead", "source": "", "country": "US", "version": ""}
    return {**data, **extra}


# --- Definitions --------------------------------------------------------------------------


def test_an_admin_defines_fields_in_django_admin(admin_client):
    url = reverse("admin:crm_customfield_add")
    response = admin_client.post(
        url,
        {"model": "contacts.company", "label": "Contract renewal date", "key": "", "field_type": "date",
         "choices_text": "", "help_text": "", "position": 2, "is_active": "on"},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    field = CustomField.objects.get(model="contacts.company")
    assert field.key == "contract_renewal_date"
    response = admin_client.post(
        url,
        {"model": "contacts.company", "label": "Region", "key": "", "field_type": "choice",
         "choices_text": "EMEA\nAmericas\n\nEMEA\nAPAC", "help_text": "", "position": 1, "is_active": "on"},
    )  # fmt: skip
    assert response.status_code == 302
    assert CustomField.objects.get(key="region").choices == ["EMEA", "Americas", "APAC"]


def test_a_choice_field_needs_choices_and_keys_are_unique_per_record(admin_client, region):
    url = reverse("admin:crm_customfield_add")
    response = admin_client.post(
        url,
        {"model": "contacts.company", "label": "Tier", "key": "", "field_type": "choice", "choices_text": "",
         "position": 0, "is_active": "on"},
    )  # fmt: skip
    assert "List at least one choice" in response.content.decode()
    response = admin_client.post(
        url,
        {"model": "contacts.company", "label": "Region 2", "key": "region", "field_type": "text",
         "position": 0, "is_active": "on"},
    )  # fmt: skip
    assert "already has a field with this key" in response.content.decode()
    assert CustomField.objects.count() == 1


def test_a_range_field_gets_its_expression_index(renewal, django_capture_on_commit_callbacks):
    custom_fields.custom_field_ensure_index(field=renewal)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = %s",
            [custom_fields.index_name(renewal.model, renewal.key)],
        )
        (definition,) = cursor.fetchone()
    assert "(custom -> 'contract_renewal_date'::text)" in definition


# --- Forms and pages ----------------------------------------------------------------------


def test_a_rep_fills_the_fields_on_the_company_form(owner_client, owner, region, renewal):
    response = owner_client.get(reverse("contacts:company-create"))
    page = response.content.decode()
    assert 'name="cf_region"' in page and 'name="cf_contract_renewal_date"' in page
    response = owner_client.post(
        reverse("contacts:company-create"),
        _company_post(owner=owner.pk, cf_region="EMEA", cf_contract_renewal_date="2027-03-31"),
    )
    assert response.status_code == 302
    company = Company.objects.get(name="Acme")
    assert company.custom == {"region": "EMEA", "contract_renewal_date": "2027-03-31"}

    detail = owner_client.get(company.get_absolute_url()).content.decode()
    assert "Contract renewal date" in detail and "2027-03-31" in detail and "EMEA" in detail


def test_invalid_and_missing_required_values_are_field_errors(owner_client, owner, region, renewal):
    CustomField.objects.filter(pk=region.pk).update(required=True)
    custom_fields.forget_definitions()
    response = owner_client.post(
        reverse("contacts:company-create"),
        _company_post(owner=owner.pk, cf_region="Mars", cf_contract_renewal_date="31/31/2027"),
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert "cf_region" in form.errors and "cf_contract_renewal_date" in form.errors
    response = owner_client.post(reverse("contacts:company-create"), _company_post(owner=owner.pk))
    assert "This field is required." in response.context["form"].errors["cf_region"]
    assert not Company.objects.exists()


def test_an_edit_keeps_the_values_of_inactive_fields_and_history_names_each_field(owner_client, owner, region, renewal):
    company = CompanyFactory(owner=owner, custom={"region": "APAC", "old": "kept"})
    CustomField.objects.create(model="contacts.company", key="old", label="Old", field_type="text", is_active=False)
    response = owner_client.post(
        reverse("contacts:company-edit", args=[company.pk]),
        _company_post(
            name=company.name, owner=owner.pk, cf_region="EMEA", cf_contract_renewal_date="", version=company.version
        ),
    )
    assert response.status_code == 302
    company.refresh_from_db()
    assert company.custom == {"region": "EMEA", "old": "kept"}
    page = owner_client.get(company.get_absolute_url()).content.decode()
    assert "APAC" in page and "EMEA" in page  # Region: APAC → EMEA in the history


def test_teammates_read_the_values_and_outsiders_get_404(teammate_client, outsider_client, owner, region):
    company = CompanyFactory(owner=owner, custom={"region": "EMEA"})
    assert "EMEA" in teammate_client.get(company.get_absolute_url()).content.decode()
    assert outsider_client.get(company.get_absolute_url()).status_code == 404


def test_deal_and_case_forms_take_custom_fields(owner_client, owner):
    CustomField.objects.create(model="deals.deal", key="budget_owner", label="Budget owner", field_type="user")
    deal = DealFactory(owner=owner)
    page = owner_client.get(reverse("deals:edit", args=[deal.pk])).content.decode()
    assert 'name="cf_budget_owner"' in page
    data = {
        "title": deal.title, "owner": owner.pk, "pipeline": deal.pipeline_id, "stage": deal.stage_id,
        "amount": "10", "currency": deal.currency, "source": "", "version": deal.version, "cf_budget_owner": owner.pk,
        "company": deal.company_id or "",
    }  # fmt: skip
    response = owner_client.post(reverse("deals:edit", args=[deal.pk]), data)
    assert response.status_code == 302, response.context["form"].errors
    deal.refresh_from_db()
    assert deal.custom == {"budget_owner": owner.pk}
    assert "Budget owner" in owner_client.get(deal.get_absolute_url()).content.decode()


# --- Lists --------------------------------------------------------------------------------


def test_the_company_list_filters_by_a_choice_and_a_date_range(owner_client, owner, region, renewal):
    CompanyFactory(owner=owner, name="Early EMEA", custom={"region": "EMEA", "contract_renewal_date": "2027-01-10"})
    CompanyFactory(owner=owner, name="Late EMEA", custom={"region": "EMEA", "contract_renewal_date": "2027-09-10"})
    CompanyFactory(owner=owner, name="Americas Co", custom={"region": "Americas"})
    url = reverse("contacts:company-list")
    names = lambda response: [row.name for row in response.context["page"].rows]  # noqa: E731
    assert names(owner_client.get(url, {"cf_region": "EMEA"})) == ["Early EMEA", "Late EMEA"]
    response = owner_client.get(
        url, {"cf_region": "EMEA", "cf_contract_renewal_date_from": "2027-06-01", "cf_contract_renewal_date_to": ""}
    )
    assert names(response) == ["Late EMEA"]
    assert names(owner_client.get(url, {"cf_contract_renewal_date_to": "2027-02-01"})) == ["Early EMEA"]
    # A value that is not a choice filters nothing instead of failing.
    assert len(names(owner_client.get(url, {"cf_region": "Mars"}))) == 3


def test_custom_columns_render_with_a_constant_number_of_queries(
    owner_client, owner, region, renewal, django_assert_max_num_queries
):
    CustomField.objects.create(model="contacts.company", key="am", label="Account manager", field_type="user")
    url = reverse("contacts:company-list")
    params = {"cols": ["name", "cf_region", "cf_contract_renewal_date", "cf_am", "owner"]}
    CompanyFactory(owner=owner, custom={"region": "EMEA", "am": owner.pk})
    owner_client.get(url, params)  # warms the definitions cache
    with django_assert_max_num_queries(12) as few:
        owner_client.get(url, params)
    for n in range(30):
        CompanyFactory(
            owner=owner, custom={"region": "APAC", "contract_renewal_date": f"2027-01-{n % 28 + 1:02d}", "am": owner.pk}
        )
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = owner_client.get(url, params)
    page = response.content.decode()
    assert "Account manager" in page and "Olga Owner" in page and "2027-01-05" in page
    assert [h["key"] for h in response.context["header"]] == [
        "name",
        "cf_region",
        "cf_contract_renewal_date",
        "cf_am",
        "owner",
    ]


def test_the_export_has_the_custom_columns(owner_client, owner, region, renewal):
    CompanyFactory(owner=owner, name="Acme", custom={"region": "EMEA", "contract_renewal_date": "2027-03-31"})
    response = owner_client.get(reverse("contacts:company-export", args=["csv"]), {"cf_region": "EMEA"})
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    header, row = text.splitlines()[:2]
    assert header.endswith("Region,Contract renewal date")
    assert row.endswith("EMEA,2027-03-31")


# --- Import -------------------------------------------------------------------------------


def test_an_import_maps_and_validates_custom_columns(owner, region, renewal, django_capture_on_commit_callbacks):
    from contacts.imports import guess_mapping
    from contacts.tests.test_import_services import make_job, run

    text = "Name,Region,Region,Contract renewal date\nAcme,Bavaria,EMEA,2027-03-31\nBad Co,,Mars,not a date\n"
    assert guess_mapping(["Name", "Region", "Region", "Contract renewal date"], "companies") == {
        "0": "name", "1": "region", "2": "cf_region", "3": "cf_contract_renewal_date",
    }  # fmt: skip
    job = run(make_job(owner, text, kind="companies", name="c.csv"), django_capture_on_commit_callbacks)
    acme = Company.objects.get(name="Acme")
    assert acme.region == "Bavaria"
    assert acme.custom == {"region": "EMEA", "contract_renewal_date": "2027-03-31"}
    from contacts.models import ImportRowError

    assert job.error == ""
    assert not Company.objects.filter(name="Bad Co").exists()
    (reason,) = ImportRowError.objects.filter(job=job).values_list("reason", flat=True)
    assert "Region" in reason and "Contract renewal date" in reason


# --- API ----------------------------------------------------------------------------------


def test_the_api_reads_and_writes_validated_custom_fields(owner, region, renewal):
    client = token_client(owner)
    company = CompanyFactory(owner=owner, custom={"region": "EMEA"})
    url = reverse("api:company", args=[company.pk])
    body = client.get(url).json()
    assert body["custom"] == {"region": "EMEA", "contract_renewal_date": None}
    bad = client.patch(url, {"version": company.version, "custom": {"region": "Mars", "nope": 1}}, format="json")
    assert bad.status_code == 400
    assert (
        set(bad.json()["fields"]["custom"]) == {"region", "nope"}
        if "fields" in bad.json()
        else "custom" in json.dumps(bad.json())
    )
    good = client.patch(
        url, {"version": company.version, "custom": {"contract_renewal_date": "2027-03-31"}}, format="json"
    )
    assert good.status_code == 200, good.json()
    company.refresh_from_db()
    assert company.custom == {"region": "EMEA", "contract_renewal_date": "2027-03-31"}
    created = client.post(reverse("api:companies"), {"name": "New", "custom": {"region": "APAC"}}, format="json")
    assert created.status_code == 201, created.json()
    assert Company.objects.get(name="New").custom == {"region": "APAC"}


# --- Helper API and indexes ---------------------------------------------------------------


def test_filter_queryset_and_group_expression(owner, region, renewal):
    a = CompanyFactory(owner=owner, custom={"region": "EMEA", "contract_renewal_date": "2027-01-01"})
    b = CompanyFactory(owner=owner, custom={"region": "APAC", "contract_renewal_date": "2027-06-01"})
    c = CompanyFactory(owner=owner, custom={})
    qs = Company.objects.all()
    defn = custom_fields.field_for(Company, "region")
    assert list(custom_fields.filter_queryset(qs, defn, "eq", "EMEA")) == [a]
    assert set(custom_fields.filter_queryset(qs, "contract_renewal_date", "gte", "2027-03-01")) == {b}
    assert set(custom_fields.filter_queryset(qs, "contract_renewal_date", "lte", "2027-03-01")) == {a}
    assert set(custom_fields.filter_queryset(qs, "region", "isnull", True)) == {c}
    groups = dict(
        qs.order_by()
        .values_list(custom_fields.group_expression(defn))
        .annotate(n=__import__("django").db.models.Count("id"))
    )
    assert groups == {"EMEA": 1, "APAC": 1, None: 1}


def _plan(qs) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    return qs.explain()


def test_filters_are_answered_by_the_indexes(owner, region, renewal):
    custom_fields.custom_field_ensure_index(field=renewal)
    CompanyFactory(owner=owner, custom={"region": "EMEA", "contract_renewal_date": "2027-01-01"})
    qs = Company.objects.all()
    assert "company_custom" in _plan(custom_fields.filter_queryset(qs, "region", "eq", "EMEA"))
    index = custom_fields.index_name("contacts.company", "contract_renewal_date")
    assert index in _plan(custom_fields.filter_queryset(qs, "contract_renewal_date", "gte", "2027-01-01"))


def test_clean_values_reads_import_and_api_spellings(owner):
    for key, kind, choices in [("yes", "boolean", []), ("tags", "multi_choice", ["a", "b", "c"]), ("n", "money", []),
                               ("who", "user", []), ("site", "url", [])]:  # fmt: skip
        CustomField.objects.create(model="contacts.contact", key=key, label=key, field_type=kind, choices=choices)
    values = custom_fields.clean_values(
        "contacts.contact",
        {"yes": "Да", "tags": "c; a", "n": "1234.5", "who": owner.username, "site": "example.com"},
        current={},
    )
    assert values == {"yes": True, "tags": ["a", "c"], "n": 1234.5, "who": owner.pk, "site": "https://example.com"}
    assert custom_fields.display_value(custom_fields.field_for("contacts.contact", "n"), 1234.5) == "1,234.50"


def test_the_settings_page_is_for_admins(admin_client, owner_client, region):
    assert owner_client.get(reverse("custom-field-list")).status_code == 403
    assert owner_client.post(reverse("custom-field-create"), {"label": "X"}).status_code == 403
    page = admin_client.get(reverse("custom-field-list")).content.decode()
    assert "Region" in page and "EMEA, Americas, APAC" in page
    response = admin_client.post(
        reverse("custom-field-create"),
        {"model": "deals.deal", "label": "Budget approved", "field_type": "boolean", "position": 1, "is_active": "on"},
    )
    assert response.status_code == 302
    assert CustomField.objects.get(model="deals.deal").key == "budget_approved"
    response = admin_client.post(
        reverse("custom-field-edit", args=[region.pk]),
        {"label": "Sales region", "choices_text": "EMEA\nAPAC", "position": 1, "is_active": "on"},
    )
    assert response.status_code == 302
    region.refresh_from_db()
    assert (region.label, region.key, region.choices) == ("Sales region", "region", ["EMEA", "APAC"])


def test_a_merge_keeps_the_losers_values_where_the_survivor_has_none_and_undo_restores(owner, region, renewal):
    from contacts.merge import merge_undo, records_merge

    survivor = CompanyFactory(owner=owner, custom={"region": "EMEA"})
    loser = CompanyFactory(owner=owner, custom={"region": "APAC", "contract_renewal_date": "2027-03-31"})
    record = records_merge(actor=owner, survivor=survivor, loser=loser, choices={})
    survivor.refresh_from_db()
    assert survivor.custom == {"region": "EMEA", "contract_renewal_date": "2027-03-31"}
    merge_undo(actor=owner, record=record)
    survivor.refresh_from_db()
    assert survivor.custom == {"region": "EMEA"}
