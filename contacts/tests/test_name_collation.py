"""Names sorted as the reader's language sorts them (ICU collations), page by page through the
collation's index; Chinese names found by one, two or three characters."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import translation

from contacts.keyset import keyset_page
from contacts.models import Company, Contact
from contacts.selectors import (
    ListFilters,
    company_list,
    company_sorts,
    contact_list,
    contact_search_q,
    contact_sorts,
)
from contacts.tests.factories import CompanyFactory, ContactFactory

pytestmark = pytest.mark.django_db

COMPANY_NAMES = ["Ёлка", "Егерь", "Яблоко", "Zeta", "alpha", "Beta", "王府", "李宁", "张江"]
EXPECTED_COMPANIES = {
    # The root order: Latin (case-insensitive), then Cyrillic with ё next to е, then Han.
    "en": ["alpha", "Beta", "Zeta", "Егерь", "Ёлка", "Яблоко", "张江", "李宁", "王府"],
    # Russian: Cyrillic first.
    "ru": ["Егерь", "Ёлка", "Яблоко", "alpha", "Beta", "Zeta", "张江", "李宁", "王府"],
    # Chinese: by pinyin (Li, Wang, Zhang), then Latin and Cyrillic.
    "zh-hans": ["李宁", "王府", "张江", "alpha", "Beta", "Zeta", "Егерь", "Ёлка", "Яблоко"],
}


def _names(rows):
    return [row.name for row in rows]


@pytest.mark.parametrize("language", EXPECTED_COMPANIES)
def test_companies_sort_by_the_readers_collation_across_keyset_pages(owner, language):
    for name in COMPANY_NAMES:
        CompanyFactory(owner=owner, name=name)
    qs = company_list(owner, ListFilters())
    with translation.override(language):
        option = company_sorts()["name"]
    seen, after = [], ""
    while True:
        page = keyset_page(qs, option, after=after, size=2)
        seen += _names(page.rows)
        if not page.has_next:
            break
        after = page.next_cursor
    assert seen == EXPECTED_COMPANIES[language]
    # …and backwards from the end, page by page.
    with translation.override(language):
        backwards = keyset_page(qs, company_sorts()["-name"], size=3)
    assert _names(backwards.rows) == EXPECTED_COMPANIES[language][::-1][:3]


def test_contacts_sort_by_family_name_then_given_name_in_russian(owner):
    for first, last in [("Пётр", "Ёлкин"), ("Анна", "Егорова"), ("Борис", "Ёлкин"), ("Олег", "Яшин")]:
        ContactFactory(owner=owner, first_name=first, last_name=last)
    with translation.override("ru"):
        page = keyset_page(contact_list(owner, ListFilters()), contact_sorts()["name"], size=10)
    assert [c.full_name for c in page.rows] == ["Анна Егорова", "Борис Ёлкин", "Пётр Ёлкин", "Олег Яшин"]


def test_the_list_page_sorts_in_the_users_language(owner, owner_client):
    for name in COMPANY_NAMES:
        CompanyFactory(owner=owner, name=name)
    owner.language = "zh-hans"
    owner.save(update_fields=["language"])
    body = owner_client.get(reverse("contacts:company-list")).content.decode()
    positions = [body.index(f">{name}<") for name in EXPECTED_COMPANIES["zh-hans"]]
    assert positions == sorted(positions)


@pytest.mark.parametrize(
    ("language", "index"), [("en", "company_name_en"), ("ru", "company_name_ru"), ("zh-hans", "company_name_zh")]
)
def test_a_page_sorted_by_name_reads_the_collations_index(owner, language, index):
    CompanyFactory(owner=owner, name="Ёлка")
    with translation.override(language):
        option = company_sorts()["name"]
    qs = Company.objects.annotate(_sort0=option.keys[0]).order_by("_sort0", "id")[:51]
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        plan = qs.explain()
        cursor.execute("RESET enable_seqscan")
    assert index in plan
    assert "Sort" not in re.sub(r"Index.*", "", plan)


@pytest.mark.parametrize("language", ["ru", "zh-hans"])
def test_a_contact_page_sorted_by_name_reads_the_collations_index(owner, language):
    ContactFactory(owner=owner, first_name="小明", last_name="王")
    with translation.override(language):
        keys = contact_sorts()["name"].keys
    qs = Contact.objects.annotate(_sort0=keys[0], _sort1=keys[1]).order_by("_sort0", "_sort1", "id")[:51]
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        plan = qs.explain()
        cursor.execute("RESET enable_seqscan")
    assert f"contact_name_{language[:2]}" in plan


def _found(query):
    return sorted(c.full_name for c in Contact.objects.filter(contact_search_q(query)))


def test_chinese_contacts_are_found_by_one_two_or_three_characters(owner):
    ContactFactory(owner=owner, first_name="小明", last_name="王")
    ContactFactory(owner=owner, first_name="明", last_name="李")
    ContactFactory(owner=owner, first_name="Wang", last_name="Xiaoming")
    assert _found("王") == ["王小明"]
    assert _found("小明") == ["王小明"]
    assert _found("王小明") == ["王小明"]
    assert _found("明") == ["李明", "王小明"]
    assert _found("王 小明") == ["王小明"]
    # The pairs must be in one piece: 明王 is not in either name.
    assert _found("明王") == []
    assert _found("wang") == ["Wang Xiaoming"]


def test_the_chinese_name_search_reads_its_index(owner):
    ContactFactory(owner=owner, first_name="小明", last_name="王")
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        plan = Contact.objects.filter(contact_search_q("小明")).explain()
        cursor.execute("RESET enable_seqscan")
    assert "contacts_contact_name_cjk_grams" in plan


def test_the_contact_list_and_global_search_find_a_chinese_name(owner, owner_client, teammate, outsider):
    ContactFactory(owner=owner, first_name="小明", last_name="王")
    ContactFactory(owner=outsider, first_name="小明", last_name="张")
    body = owner_client.get(reverse("contacts:contact-list"), {"q": "小明"}).content.decode()
    assert "王小明" in body
    assert "张小明" not in body  # another team's contact stays invisible
    body = owner_client.get(reverse("search"), {"q": "王小明"}).content.decode()
    assert "王小明" in body
    assert "张小明" not in body


def test_russian_contacts_are_found_with_e_for_yo_by_full_name(owner, owner_client):
    ContactFactory(owner=owner, first_name="Пётр", last_name="Семёнов")
    assert _found("петр семенов") == ["Пётр Семёнов"]
    body = owner_client.get(reverse("contacts:contact-list"), {"q": "Семенов"}).content.decode()
    assert "Семёнов" in body


def test_a_search_page_sorts_its_matches_in_the_readers_collation_too(owner):
    from contacts.keyset import for_search, search_page

    for last in ("Яшин", "Ёлкин", "Егоров"):
        ContactFactory(owner=owner, first_name="Пётр", last_name=last)
    with translation.override("ru"):
        option = for_search(contact_sorts()["name"])
    qs = contact_list(owner, ListFilters(q="петр"))
    first, count, _more = search_page(qs, option, size=2)
    second, _count, _more = search_page(qs, option, after=first.next_cursor, size=2)
    assert count == 3
    assert [c.last_name for c in first.rows + second.rows] == ["Егоров", "Ёлкин", "Яшин"]
