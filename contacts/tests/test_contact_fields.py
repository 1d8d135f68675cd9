"""A contact's postal address, birth date, second email and phone: form, service default from
the company, contact page, history, export, admin, and the country names forms accept."""

import csv
import io
from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from contacts import services
from contacts.forms import ContactForm
from contacts.models import Contact
from contacts.normalize import birth_date_problem, country_code, normalize_postcode
from contacts.tests.factories import CompanyFactory, ContactFactory


@pytest.fixture
def hq(owner):
    return CompanyFactory(
        owner=owner,
        name="Acme GmbH",
        street="Unter den Linden 5",
        city="Berlin",
        postal_code="10117",
        region="Berlin",
        country="DE",
    )


def _post(**overrides):
    data = {
        "first_name": "Anna",
        "last_name": "Petrova",
        "title": "",
        "company": "",
        "email": "",
        "secondary_email": "",
        "phone": "",
        "mobile": "",
        "lifecycle_stage": "lead",
        "source": "",
        "street": "",
        "street2": "",
        "city": "",
        "region": "",
        "postcode": "",
        "country": "",
        "birth_date": "",
        "tags": "",
    }
    data.update(overrides)
    return data


# --- Form -----------------------------------------------------------------------------------


def test_owner_saves_address_birth_date_second_email_and_mobile(owner_client, owner):
    response = owner_client.post(
        reverse("contacts:contact-create"),
        _post(
            owner=owner.pk,
            street="  12 High Street ",
            street2="Flat 3",
            city="London",
            region="Greater London",
            postcode=" sw1a  1aa ",
            country="GB",
            birth_date="1980-12-31",
            secondary_email="Anna.Home@Example.com",
            mobile="+44 7911 123456",
        ),
    )
    assert response.status_code == 302
    contact = Contact.objects.get()
    assert (contact.street, contact.street2, contact.city, contact.region) == (
        "12 High Street",
        "Flat 3",
        "London",
        "Greater London",
    )
    assert contact.postcode == "SW1A 1AA"
    assert contact.birth_date == date(1980, 12, 31)
    assert (contact.secondary_email, contact.mobile) == ("anna.home@example.com", "+447911123456")


@pytest.mark.parametrize("typed", ["31.12.1980", "31/12/1980", "12/31/1980", "1980-12-31"])
def test_the_birth_date_is_read_in_common_formats(owner, typed):
    form = ContactForm(_post(owner=owner.pk, birth_date=typed), user=owner)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["birth_date"] == date(1980, 12, 31)


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ((timezone.localdate() + timedelta(days=1)).isoformat(), "is in the future"),
        ("1899-12-31", "is before 1900"),
        ("05/06/1980", "could be 1980-06-05 or 1980-05-06"),
        ("31.02.1980", "is not a date that exists"),
        ("yesterday", "is not a date"),
    ],
)
def test_a_bad_birth_date_is_refused_with_the_reason(owner_client, owner, typed, message):
    response = owner_client.post(reverse("contacts:contact-create"), _post(owner=owner.pk, birth_date=typed))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Contact.objects.exists()


def test_the_service_refuses_a_future_birth_date_too(owner):
    with pytest.raises(ValidationError) as info:
        services.contact_create(
            actor=owner, owner=owner, last_name="X", birth_date=timezone.localdate() + timedelta(days=3)
        )
    assert "birth_date" in info.value.message_dict
    assert birth_date_problem(date(1900, 1, 1)) is None


@pytest.mark.parametrize(
    ("typed", "code"),
    [("United States", "US"), ("Russian Federation", "RU"), ("Turkey", "TR"), ("Czech Republic", "CZ"),
     ("Россия", "RU"), ("中国", "CN"), ("DEU", "DE")],
)  # fmt: skip
def test_the_form_reads_a_country_name_through_the_import_normaliser(owner, typed, code):
    form = ContactForm(_post(owner=owner.pk, country=typed), user=owner)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["country"] == code


def test_postcodes_are_trimmed_and_upper_cased():
    assert normalize_postcode("  sw1a   1aa ") == "SW1A 1AA"
    assert normalize_postcode("") == ""


def test_teammate_cannot_change_the_address_and_outsider_does_not_see_the_contact(
    teammate_client, outsider_client, owner
):
    contact = ContactFactory(owner=owner, last_name="Petrova", city="Moscow")
    url = reverse("contacts:contact-edit", args=[contact.pk])
    assert teammate_client.post(url, _post(owner=owner.pk, city="Paris")).status_code == 403
    assert outsider_client.post(url, _post(owner=owner.pk, city="Paris")).status_code == 404
    contact.refresh_from_db()
    assert contact.city == "Moscow"


# --- The company's address as the default ---------------------------------------------------


def test_a_contact_created_for_a_company_without_an_address_takes_the_companys(owner, hq):
    contact = services.contact_create(actor=owner, owner=owner, last_name="Petrova", company=hq)
    contact.refresh_from_db()
    assert (contact.street, contact.city, contact.postcode, contact.region, contact.country.code) == (
        "Unter den Linden 5",
        "Berlin",
        "10117",
        "Berlin",
        "DE",
    )


def test_an_address_of_its_own_is_kept_whole(owner, hq):
    contact = services.contact_create(actor=owner, owner=owner, last_name="Petrova", company=hq, city="Munich")
    contact.refresh_from_db()
    assert (contact.street, contact.city, contact.postcode) == ("", "Munich", "")
    assert contact.country.code == "DE"  # no country of its own: the company's


def test_editing_a_contact_never_refills_an_address_the_user_cleared(owner, hq):
    contact = services.contact_create(actor=owner, owner=owner, last_name="Petrova", company=hq)
    services.contact_update(actor=owner, contact=contact, street="", city="", postcode="", region="")
    contact.refresh_from_db()
    assert (contact.street, contact.city) == ("", "")


def test_the_new_contact_form_for_a_company_is_prefilled_with_its_address(owner_client, hq):
    body = owner_client.get(reverse("contacts:contact-create"), {"company": hq.pk}).content.decode()
    assert 'value="Unter den Linden 5"' in body
    assert 'value="10117"' in body


def test_the_form_prefills_nothing_from_a_company_the_user_may_not_see(outsider_client, hq):
    body = outsider_client.get(reverse("contacts:contact-create"), {"company": hq.pk}).content.decode()
    assert "Unter den Linden" not in body


def test_a_contact_posted_for_a_company_with_the_address_left_empty_gets_it(owner_client, owner, hq):
    response = owner_client.post(reverse("contacts:contact-create"), _post(owner=owner.pk, company=hq.pk))
    assert response.status_code == 302
    assert Contact.objects.get().city == "Berlin"


# --- Contact page, history, admin ------------------------------------------------------------


@pytest.mark.parametrize(("who", "status"), [("owner", 200), ("teammate", 200), ("outsider", 404)])
def test_the_contact_page_shows_the_address_block_and_birth_date(client_for, owner, who, status):
    contact = ContactFactory(
        owner=owner,
        last_name="Petrova",
        street="Tverskaya 1",
        street2="Office 4",
        city="Moscow",
        postcode="125009",
        country="RU",
        birth_date=date(1985, 3, 8),
    )
    response = client_for(who).get(contact.get_absolute_url())
    assert response.status_code == status
    if status == 200:
        body = response.content.decode()
        assert 'id="contact-address"' in body
        assert "Tverskaya 1<br>" in body and "Office 4<br>" in body and "125009 Moscow" in body
        assert "8 Mar 1985" in body  # the date rule: day, month, year (not this year)


def test_the_contact_page_says_when_there_is_no_address(owner_client, owner):
    contact = ContactFactory(owner=owner, last_name="Petrova", country="")
    assert "No address" in owner_client.get(contact.get_absolute_url()).content.decode()


def test_history_records_address_and_birth_date_changes(owner_client, owner):
    contact = services.contact_create(actor=owner, owner=owner, last_name="Petrova", city="Moscow")
    services.contact_update(actor=owner, contact=contact, city="Kazan", birth_date=date(1990, 1, 2))
    latest = contact.history.order_by("-history_id").first()
    assert (latest.city, latest.birth_date) == ("Kazan", date(1990, 1, 2))
    body = owner_client.get(contact.get_absolute_url()).content.decode()
    assert "Kazan" in body and "Moscow" in body  # the change from → to


def test_admin_edits_the_new_fields_with_the_same_rules(admin_client, owner):
    contact = ContactFactory(owner=owner, last_name="Petrova", first_name="Anna")
    url = reverse("admin:contacts_contact_change", args=[contact.pk])
    body = admin_client.get(url).content.decode()
    for name in ("street", "street2", "city", "region", "postcode", "birth_date", "secondary_email", "mobile"):
        assert f'name="{name}"' in body


# --- Export -----------------------------------------------------------------------------------


def test_the_export_has_the_address_and_birth_date_columns_import_recognises(owner_client, owner):
    ContactFactory(
        owner=owner,
        first_name="Anna",
        last_name="Petrova",
        street="Tverskaya 1",
        street2="Office 4",
        city="Moscow",
        region="Moscow",
        postcode="125009",
        country="RU",
        birth_date=date(1985, 3, 8),
        secondary_email="anna@home.example",
        mobile="+79161234567",
    )
    response = owner_client.get(reverse("contacts:contact-export", args=["csv"]))
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    row = dict(zip(rows[0], rows[1], strict=True))
    assert {k: row[k] for k in ("Street", "Address line 2", "City", "Region", "Postcode", "Country", "Birth date")} == {
        "Street": "Tverskaya 1",
        "Address line 2": "Office 4",
        "City": "Moscow",
        "Region": "Moscow",
        "Postcode": "125009",
        "Country": "RU",
        "Birth date": "1985-03-08",
    }
    assert (row["Second email"], row["Mobile"]) == ("anna@home.example", "'+79161234567")  # escaped, see crm/exports

    from contacts.imports import guess_mapping

    mapping = guess_mapping(rows[0], "contacts")
    recognised = {rows[0][int(i)]: target for i, target in mapping.items() if target}
    assert {recognised[h] for h in ("Street", "Address line 2", "City", "Region", "Postcode", "Birth date")} == {
        "street",
        "street2",
        "city",
        "region",
        "postcode",
        "birth_date",
    }

    response = owner_client.get(reverse("contacts:contact-export", args=["xlsx"]))
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True)
    sheet = [list(r) for r in workbook.worksheets[0].iter_rows(values_only=True)]
    xrow = dict(zip(sheet[0], sheet[1], strict=True))
    assert xrow["Postcode"] == "125009" and xrow["Birth date"].date() == date(1985, 3, 8)


def test_country_code_is_empty_for_an_empty_value():
    assert country_code("  ") == ""


def test_a_merge_offers_the_address_and_birth_date_and_undo_restores_them(owner):
    from contacts.merge import merge_undo, records_merge

    survivor = ContactFactory(owner=owner, last_name="Petrova", city="", birth_date=None)
    loser = ContactFactory(owner=owner, last_name="Petrova", city="Moscow", birth_date=date(1985, 3, 8))
    record = records_merge(
        actor=owner, survivor=survivor, loser=loser, choices={"city": "loser", "birth_date": "loser"}
    )
    survivor.refresh_from_db()
    assert (survivor.city, survivor.birth_date) == ("Moscow", date(1985, 3, 8))
    assert record.survivor_before["birth_date"] is None
    merge_undo(actor=owner, record=record)
    survivor.refresh_from_db()
    assert (survivor.city, survivor.birth_date) == ("", None)
