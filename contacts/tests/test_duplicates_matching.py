"""Company normalisation and scoring (contacts.matching) and the SQL blocking keys it relies on.

Contacts are matched by contacts.linkage (test_linkage.py)."""

import pytest
from django.db import connection

from contacts.matching import DUPLICATE_SCORE, company_values, email_norm, name_norm, phone_key, score_companies


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
            "SELECT dedupe_company_keys(%s, %s, %s, %s)",
            ["ООО «Ромашка»", "Romashka.ru", "Info+x@GMail.com", "+7 916 123-45-67"],
        )
        (company_keys,) = cursor.fetchone()
    assert "e:" + email_norm("Info+x@GMail.com") in company_keys
    assert "p:" + phone_key("+7 916 123-45-67") in company_keys
    assert "n:romashka" in company_keys and "d:romashka.ru" in company_keys
