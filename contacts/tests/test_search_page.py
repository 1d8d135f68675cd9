"""A list search (``?q=``) takes its page and its capped count from one pass over the matches
(``contacts.keyset.search_page``), and the company page's "People" panel comes with the
company row and is written in Python (``company_contact_items``)."""

import base64
import json

import pytest
from django.urls import reverse
from django.utils import timezone

from contacts.keyset import capped_count, for_search, keyset_page, search_page
from contacts.models import Company, Contact
from contacts.selectors import CONTACT_SORTS, ListFilters, contact_list
from contacts.tests.factories import CompanyFactory, ContactFactory


def _people(owner, n, last_name="Smith", **extra):
    return Contact.objects.bulk_create(
        [Contact(owner=owner, first_name=f"P{i % 9}", last_name=last_name, **extra) for i in range(n)]
    )


@pytest.mark.parametrize("sort", ["name", "-name", "email", "stage", "created", "-created"])
def test_a_search_pages_forward_and_back_like_the_list_did(owner, sort):
    _people(owner, 70)
    Contact.objects.bulk_create(
        [
            Contact(owner=owner, first_name="Ann", last_name=f"Adams{i}", email=f"a{i}@smithco.example")
            for i in range(15)
        ]
    )
    qs = contact_list(owner, ListFilters(q="smith"))
    option = for_search(CONTACT_SORTS[sort])
    seen, after = [], ""
    while True:
        page, count, more = search_page(qs, option, after=after, size=20)
        old = keyset_page(qs, option, after=after, size=20)
        assert [r.pk for r in page.rows] == [r.pk for r in old.rows]
        assert (page.next_cursor, page.previous_cursor, page.has_next, page.has_previous) == (
            old.next_cursor,
            old.previous_cursor,
            old.has_next,
            old.has_previous,
        )
        assert (count, more) == capped_count(qs) == (85, False)
        seen += [r.pk for r in page.rows]
        if not page.has_next:
            break
        back, _count, _more = search_page(qs, option, before=page.next_cursor, size=20)
        assert [r.pk for r in back.rows] == [
            r.pk for r in keyset_page(qs, option, before=page.next_cursor, size=20).rows
        ]
        after = page.next_cursor
    assert sorted(seen) == sorted(qs.values_list("pk", flat=True))


def test_a_search_count_is_exact_up_to_a_thousand_then_capped(owner_client, owner):
    _people(owner, 1000)
    response = owner_client.get(reverse("contacts:contact-list"), {"q": "smith"})
    assert (response.context["count"], response.context["count_more"]) == (1000, False)
    _people(owner, 1)
    response = owner_client.get(reverse("contacts:contact-list"), {"q": "smith"})
    assert (response.context["count"], response.context["count_more"]) == (1000, True)
    assert "1,000+" in response.content.decode()
    assert len(response.context["page"].rows) == 50


def test_a_search_past_the_last_page_is_empty(owner, owner_client):
    _people(owner, 3)
    qs = contact_list(owner, ListFilters(q="smith"))
    option = for_search(CONTACT_SORTS["name"])
    page, count, more = search_page(qs, option)
    assert (len(page.rows), count, more) == (3, 3, False)
    beyond, count, more = search_page(qs, option, after=page.next_cursor)
    assert (beyond.rows, count, more) == ([], 3, False)
    assert search_page(contact_list(owner, ListFilters(q="nobody")), option)[1:] == (0, False)


@pytest.mark.parametrize(("who", "found"), [("owner", True), ("teammate", True), ("outsider", False)])
def test_a_search_shows_only_contacts_the_user_may_see(client_for, owner, who, found):
    _people(owner, 2, last_name="Zyxwort")
    response = client_for(who).get(reverse("contacts:contact-list"), {"q": "zyxwort"})
    assert response.context["count"] == (2 if found else 0)
    assert ("Zyxwort" in response.content.decode()) is found


def test_a_search_makes_a_constant_number_of_queries(owner_client, owner, django_assert_max_num_queries):
    _people(owner, 60)
    # Best match: the Smiths from the surname index, the count, the page's rows (and the
    # session, saved views and bulk jobs).
    with django_assert_max_num_queries(6):
        response = owner_client.get(reverse("contacts:contact-list"), {"q": "smith"})
    assert len(response.context["page"].rows) == 50
    CompanyFactory.create_batch(3, owner=owner, name="Smith Holdings")
    with django_assert_max_num_queries(6):
        response = owner_client.get(reverse("contacts:company-list"), {"q": "smith"})
    assert response.context["count"] == 3


def test_company_people_panel_shows_fifty_in_name_order_with_flags(owner_client, owner, company):
    Contact.objects.bulk_create(
        [Contact(owner=owner, company=company, first_name="P", last_name=f"Name{i:02d}") for i in range(55)]
    )
    ContactFactory(owner=owner, company=company, last_name="Aaarchived", archived_at=timezone.now())
    ContactFactory(
        owner=owner,
        company=company,
        first_name="Eve <b>",
        last_name="Aaron",
        title="CFO & co",
        email="eve@acme.example",
        phone="+79161234567",
        do_not_call=True,
        do_not_email=True,
    )
    ContactFactory(
        owner=owner, company=company, first_name="Bo", last_name="Abel", mobile="12345", phone_is_invalid=True
    )
    response = owner_client.get(company.get_absolute_url())
    body = response.content.decode()
    names = [c.last_name for c in response.context["contacts"]]
    assert names[:3] == ["Aaron", "Abel", "Name00"] and len(names) == 50
    assert "Aaarchived" not in body
    assert '<span class="badge text-bg-light border">50+</span>' in body
    eve = Contact.objects.get(last_name="Aaron")
    assert f'<a href="{eve.get_absolute_url()}">Eve &lt;b&gt; Aaron</a>' in body
    assert '<div class="small text-secondary">CFO &amp; co</div>' in body
    assert '<span class="text-decoration-line-through text-secondary">eve@acme.example</span>' in body
    assert '<span class="text-decoration-line-through text-secondary">+7 916 123-45-67</span>' in body
    assert 'title="This person asked not to be called."' in body
    assert 'title="This person asked not to be emailed."' in body
    assert '<a href="tel:12345" class="text-nowrap">12345</a> <span class="badge text-bg-warning"' in body


def test_company_people_panel_empty_state(owner_client, owner):
    company = Company.objects.create(owner=owner, name="Lonely Ltd")
    body = owner_client.get(company.get_absolute_url()).content.decode()
    assert "No people at this company yet." in body


@pytest.mark.parametrize("sort", sorted(CONTACT_SORTS))
def test_matches_collected_from_the_records_give_the_rows_pages_and_counts(owner, sort):
    """``matching`` (the records before ``list_rows`` chose a row's columns) finds the same
    pages, cursors and counts as collecting the matches from the rows' query."""
    from contacts.selectors import CONTACT_ROW_FIELDS
    from crm.rows import list_rows

    firms = [CompanyFactory(owner=owner, name=f"Smithfield {n}") for n in range(3)]
    for i, person in enumerate(_people(owner, 25)):
        Contact.objects.filter(pk=person.pk).update(company=firms[i % 3], email=f"p{i}@smith.example")
    matching = contact_list(owner, ListFilters(q="smith"))
    rows = list_rows(matching, CONTACT_ROW_FIELDS)
    option = for_search(CONTACT_SORTS[sort])
    after = ""
    while True:
        page, count, more = search_page(rows, option, after=after, size=10, matching=matching)
        plain = search_page(rows, option, after=after, size=10)
        assert (page, count, more) == plain
        assert count == 25
        if not page.has_next:
            break
        after = page.next_cursor


def _cursor(values) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "params",
    [
        {"q": "smith", "sort": "name", "after": _cursor([5, 6, 7])},
        {"q": "smith", "sort": "created", "before": _cursor(["not a date", 7])},
        {"sort": "created", "after": _cursor(["not a date", 7])},
        {"sort": "name", "before": _cursor([5, 6, 7])},
        {"sort": "-created", "after": _cursor([{"dt": "2026-01-01T00:00:00+00:00"}, "7"])},
    ],
)
def test_a_cursor_of_the_wrong_types_opens_the_first_page(owner_client, owner, params):
    """A cursor edited to hold a number where a name goes, or text where a date goes, is
    malformed like any other: the first page, not a database error."""
    _people(owner, 3)
    response = owner_client.get(reverse("contacts:contact-list"), params)
    assert response.status_code == 200
    assert len(response.context["page"].rows) == 3
    assert response.context["page"].has_previous is False
