"""Chinese search: two characters have no trigram; the bigram index finds them."""

from __future__ import annotations

import pytest
from django.db import connection
from django.urls import reverse

from contacts.models import Company
from contacts.selectors import company_search_q
from contacts.tests.factories import CompanyFactory

pytestmark = pytest.mark.django_db


def test_two_chinese_characters_find_the_company(owner):
    CompanyFactory(owner=owner, name="华信科技 Guangzhou 有限公司")
    CompanyFactory(owner=owner, name="华为 Shenzhen")
    CompanyFactory(owner=owner, name="Acme")
    names = list(Company.objects.filter(company_search_q("华信")).values_list("name", flat=True))
    assert names == ["华信科技 Guangzhou 有限公司"]


def test_the_global_search_finds_it_too(owner_client, owner):
    CompanyFactory(owner=owner, name="华信科技 Guangzhou 有限公司")
    body = owner_client.get(reverse("search"), {"q": "华信"}).content.decode()
    assert "华信科技 Guangzhou 有限公司" in body


def test_the_bigram_search_can_use_its_index(owner):
    CompanyFactory(owner=owner, name="华信科技 Guangzhou 有限公司")
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        plan = Company.objects.filter(company_search_q("华信")).explain()
        cursor.execute("RESET enable_seqscan")
    assert "contacts_company_name_cjk_bigrams" in plan


def test_ye_finds_yo_and_back(owner):
    from contacts.models import Contact
    from contacts.selectors import contact_search_q
    from contacts.tests.factories import ContactFactory

    ContactFactory(owner=owner, first_name="Фёдор", last_name="Семёнов")
    ContactFactory(owner=owner, first_name="Федор", last_name="Иванов")
    CompanyFactory(owner=owner, name="ООО «Полёт»")

    def found(query):
        return sorted(Contact.objects.filter(contact_search_q(query)).values_list("last_name", flat=True))

    assert found("Федор") == ["Иванов", "Семёнов"]
    assert found("Фёдор") == ["Иванов", "Семёнов"]
    assert found("семенов") == ["Семёнов"]
    assert list(Company.objects.filter(company_search_q("полет")).values_list("name", flat=True)) == ["ООО «Полёт»"]


def test_a_word_with_several_ye_finds_every_spelling(owner):
    """ё may stand for any е of the word, typed or stored: "Еремеев" finds Ерёмеев and Ёремеев."""
    from contacts.models import Contact
    from contacts.selectors import contact_search_q
    from contacts.tests.factories import ContactFactory

    for last in ("Ерёмеев", "Ёремеев", "Еремеёв", "Еремин"):
        ContactFactory(owner=owner, first_name="Пётр", last_name=last)
    for query in ("еремеев", "ЕРЁМЕЕВ"):
        found = set(Contact.objects.filter(contact_search_q(query)).values_list("last_name", flat=True))
        assert found == {"Еремеёв", "Ерёмеев", "Ёремеев"}, query


def test_a_cyrillic_name_search_is_one_scan_of_the_folded_indexes(owner):
    from django.db import connection

    from contacts.models import Contact
    from contacts.selectors import contact_search_q

    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        contacts_plan = Contact.objects.filter(contact_search_q("Королев")).explain()
        companies_plan = Company.objects.filter(company_search_q("Полет")).explain()
        cursor.execute("RESET enable_seqscan")
    assert "company_name_fold_trgm" in companies_plan
    # One scan of the one search column's index, not one per column or per spelling of the word.
    assert contacts_plan.count("Bitmap Index Scan on contact_owners_search_trgm") == 1
    assert contacts_plan.count("Index Scan") == 1


def test_the_search_index_holds_the_owner_beside_the_words(owner, teammate, outsider):
    """A rep's or manager's search names the owners they see; with the owner in the trigram
    index PostgreSQL can answer both conditions from it, where the words alone sent it to read
    every match of a common word from the table (bench/FINDINGS.md §7.18: 10,504 pages for
    2,271 rows). The owner is an array, so the viewer's owners are one ``&&`` condition of one
    index scan (§7.20; ``owner_id = ANY(…)`` on a plain column was one scan per owner), and it
    is the search's read access: no ``owner_id IN`` beside it, which PostgreSQL ANDed with the
    bitmap of all the viewer's contacts from the (owner, stage) index (§7.21). Which
    conditions a plan uses depends on the table's size, so the benchmark measures that; here,
    the index, that a scoped search's conditions can use it, and who finds what."""
    from django.db import connection

    from contacts.selectors import visible_contacts_matching
    from contacts.tests.factories import ContactFactory
    from crm.compiled import OwnerAccess

    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'contact_owners_search_trgm'")
        [(definition,)] = cursor.fetchall()
    assert "USING gin ((ARRAY[owner_id]), search_text gin_trgm_ops)" in definition
    for user in (owner, teammate, outsider):
        ContactFactory(owner=user, first_name="Anna", last_name="Smithson")
    ContactFactory(owner=owner, first_name="Anna", last_name="Jones")
    scoped = visible_contacts_matching(owner, "smith")
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        plan = scoped.explain()
        cursor.execute("RESET enable_seqscan")
    index_scan = plan[plan.index("Bitmap Index Scan on contact_owners_search_trgm") :]
    owners = ",".join(str(pk) for pk in sorted(owner.visible_owner_ids))
    assert f"(ARRAY[owner_id] && '{{{owners}}}'::bigint[]) AND (search_text ~~ '%smith%'::text)" in index_scan
    assert "owner_id = ANY" not in plan
    assert "contact_owner_stage" not in plan
    # Owner and teammate find each other's matches; the outsider finds only their own.
    assert sorted(scoped.values_list("owner_id", flat=True)) == sorted([owner.pk, teammate.pk])
    assert sorted(visible_contacts_matching(teammate, "smith").values_list("owner_id", flat=True)) == sorted(
        [owner.pk, teammate.pk]
    )
    assert list(visible_contacts_matching(outsider, "smith").values_list("owner_id", flat=True)) == [outsider.pk]
    # Without a word to search (a phone number, or nothing), access is visible_to's.
    assert visible_contacts_matching(outsider, "").count() == 1
    assert "ARRAY[" not in str(visible_contacts_matching(owner, "").query)
    # An admin's search names no owner; it scans the words' part of the same index.
    everyone = visible_contacts_matching(OwnerAccess(True, []), "smith")
    assert "ARRAY[" not in str(everyone.query)
    assert everyone.count() == 3


def test_a_word_is_found_in_any_of_the_names_or_the_email_but_not_across_them(owner):
    """The search column joins first name, last name and email with spaces: a word (never a
    space) matches inside one of them; case, ё and LIKE wildcards in the word are handled."""
    from contacts.models import Contact
    from contacts.selectors import contact_search_q
    from contacts.tests.factories import ContactFactory

    ContactFactory(owner=owner, first_name="Anna", last_name="Фёдорова", email="a.petrova@example.com")
    ContactFactory(owner=owner, first_name="Boris", last_name="Smith_Jones", email="")

    def found(query: str) -> set[str]:
        return set(Contact.objects.filter(contact_search_q(query)).values_list("first_name", flat=True))

    assert found("ANNA") == {"Anna"}
    assert found("федорова") == {"Anna"}
    assert found("PETROVA@") == {"Anna"}
    assert found("anna федорова") == {"Anna"}
    assert found("annaфёдорова") == set()  # not across the first and last name
    assert found("smith_jones") == {"Boris"}
    assert found("h_j") == {"Boris"}
    assert found("%") == set()  # a wildcard is a character, not "anything"
    assert found("s_ith") == set()
