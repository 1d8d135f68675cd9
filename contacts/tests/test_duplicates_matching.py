"""Normalisation and scoring (contacts.matching) and the SQL blocking keys it relies on."""

import pytest
from django.db import connection

from contacts.matching import (
    DUPLICATE_SCORE,
    company_values,
    contact_values,
    email_norm,
    name_norm,
    phone_key,
    score_companies,
    score_contacts,
)


def person(**fields):
    return contact_values(
        {
            "first_name": "",
            "last_name": "",
            "email": "",
            "secondary_email": "",
            "phone": "",
            "mobile": "",
            "company_id": None,
            "company_name": "",
            "country": "",
            **fields,
        }
    )


def firm(**fields):
    return company_values({"name": "", **fields})


def codes(match):
    return [r["code"] for r in match.reasons]


def test_names_lose_case_accents_punctuation_and_cyrillic():
    assert name_norm("Jürgen O'Neil-Smith") == "jurgen o neil smith"
    assert name_norm("Пётр Щукин") == "petr shchukin"
    assert name_norm("  ANNA   petrova ") == "anna petrova"


def test_emails_compare_without_case_tags_or_gmail_dots():
    assert email_norm("Anna.Petrova+crm@GoogleMail.com") == "annapetrova@gmail.com"
    assert email_norm("anna.petrova+x@example.com") == "anna.petrova@example.com"  # dots matter elsewhere


def test_phones_compare_by_their_last_nine_digits():
    assert phone_key("+79161234567") == phone_key("8 (916) 123-45-67") == "161234567"
    assert phone_key("ext. 12") == ""


def test_a_typo_in_the_name_and_the_same_email_is_a_duplicate():
    match = score_contacts(
        person(first_name="Anna", last_name="Petrova", email="anna@example.com"),
        person(first_name="Anna", last_name="Petorva", email="ANNA@example.com"),
    )
    assert match.score >= DUPLICATE_SCORE
    assert codes(match) == ["same_email", "similar_name"]


def test_swapped_names_and_nicknames_are_recognised():
    swapped = score_contacts(
        person(first_name="Holly", last_name="Rodriguez", phone="+12125550100"),
        person(first_name="Rodriguez", last_name="Holly", phone="(212) 555-0100"),
    )
    assert swapped.score >= DUPLICATE_SCORE and "swapped_names" in codes(swapped)
    nickname = score_contacts(
        person(first_name="William", last_name="Brown", company_id=7, company_name="Acme"),
        person(first_name="Bill", last_name="Brown", company_id=7, company_name="Acme", email="bill@acme.example"),
    )
    assert nickname.score >= DUPLICATE_SCORE and "nickname" in codes(nickname)


def test_cyrillic_and_its_transliteration_match():
    match = score_contacts(
        person(first_name="Дмитрий", last_name="Козлов", phone="+79161234567"),
        person(first_name="Dmitrii", last_name="Kozlov", phone="89161234567"),
    )
    assert match.score >= DUPLICATE_SCORE


def test_the_same_common_name_alone_is_not_enough():
    match = score_contacts(
        person(first_name="John", last_name="Smith", email="john@a.example", phone="+12125550100"),
        person(first_name="John", last_name="Smith", email="jsmith@b.example", phone="+13125550199"),
    )
    assert match.score < DUPLICATE_SCORE


def test_relatives_sharing_a_phone_are_not_duplicates():
    match = score_contacts(
        person(first_name="John", last_name="Smith", phone="+12125550100"),
        person(first_name="Mary", last_name="Smith", phone="+12125550100"),
    )
    assert match.score < DUPLICATE_SCORE
    assert codes(match) == ["same_phone"]  # still a reason for the form's warning
    assert match.strong


def test_companies_with_the_same_domain_and_a_legal_form_variant_match():
    match = score_companies(
        firm(name="Northwind Traders Inc.", domain="northwind.example", city="Seattle"),
        firm(name="NORTHWIND TRADERS, LLC", domain="northwind.example", city="Seattle"),
    )
    assert match.score >= DUPLICATE_SCORE
    assert codes(match) == ["same_domain", "same_name", "same_city"]


def test_different_companies_in_one_building_do_not_match():
    match = score_companies(
        firm(name="Contoso", domain="contoso.example", phone="+12125550100"),
        firm(name="Fabrikam", domain="fabrikam.example", phone="+12125550100"),
    )
    assert match.score < DUPLICATE_SCORE


@pytest.mark.django_db
def test_the_sql_blocking_keys_normalise_like_python():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT dedupe_contact_keys(%s, %s, %s, '', %s, '', 5), dedupe_company_keys(%s, %s, '', '')",
            ["Jürgen", "Петров-Водкин", "Jurgen.P+x@GMail.com", "+7 916 123-45-67", "ООО «Ромашка»", "Romashka.ru"],
        )
        contact_keys, company_keys = cursor.fetchone()
    assert "e:" + email_norm("Jurgen.P+x@GMail.com") in contact_keys
    assert "p:" + phone_key("+7 916 123-45-67") in contact_keys
    assert "q:" + name_norm("Петров-Водкин").replace(" ", "")[:3] + "jur" in contact_keys
    assert "n:romashka" in company_keys and "d:romashka.ru" in company_keys
