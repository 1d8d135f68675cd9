"""The contact list's search opens in best-match order: the contacts whose surname is a word
searched, then the other matches, each block by name (``contacts.selectors.contact_search_tiers``
paged by ``contacts.keyset.tiered_search_page``)."""

import base64
import csv
import io
import json

import pytest
from django.urls import reverse

from contacts.keyset import tiered_search_page
from contacts.models import Contact
from contacts.selectors import ListFilters, contact_options, contact_search_tiers
from contacts.tests.factories import ContactFactory

LIST = "contacts:contact-list"


def _names(response) -> list[str]:
    return [f"{row.first_name} {row.last_name}" for row in response.context["page"].rows]


def _smiths_and_others(owner, teammate, outsider) -> None:
    ContactFactory(owner=owner, first_name="Karen", last_name="Adams", email="karen@smithholdings.com")
    ContactFactory(owner=teammate, first_name="Zoe", last_name="Goldsmith")
    ContactFactory(owner=teammate, first_name="Bob", last_name="Smith")
    ContactFactory(owner=owner, first_name="Anna", last_name="SMITH")
    ContactFactory(owner=owner, first_name="Carl", last_name="Smith", lifecycle_stage="customer")
    ContactFactory(owner=outsider, first_name="Aaron", last_name="Smith")
    ContactFactory(owner=outsider, first_name="Alan", last_name="Arrowsmith")


_NORTH = ["Anna SMITH", "Bob Smith", "Carl Smith", "Karen Adams", "Zoe Goldsmith"]
# By name alone (the collation puts "Smith" before "SMITH").
_NORTH_BY_NAME = ["Karen Adams", "Zoe Goldsmith", "Bob Smith", "Carl Smith", "Anna SMITH"]


@pytest.mark.parametrize(
    ("who", "expected", "by_name"),
    [
        ("owner", _NORTH, _NORTH_BY_NAME),
        ("teammate", _NORTH, _NORTH_BY_NAME),
        ("outsider", ["Aaron Smith", "Alan Arrowsmith"], ["Alan Arrowsmith", "Aaron Smith"]),
    ],
)
def test_a_search_lists_those_whose_surname_is_the_word_first(
    client_for, owner, teammate, outsider, who, expected, by_name
):
    _smiths_and_others(owner, teammate, outsider)
    response = client_for(who).get(reverse(LIST), {"q": "smith"})
    assert _names(response) == expected
    # Each block holds only what the user may read (not only the rows read by id afterwards).
    viewer = {"owner": owner, "teammate": teammate, "outsider": outsider}[who]
    blocks = contact_search_tiers(viewer, ListFilters(q="smith")).tiers
    in_blocks = [f"{c.first_name} {c.last_name}" for block in blocks for c in block.records]
    assert sorted(in_blocks) == sorted(expected)
    assert (response.context["count"], response.context["count_more"]) == (len(expected), False)
    body = response.content.decode()
    assert "Best matches first" in body
    # The note's link sorts by name alone: the people at smithholdings.com come first again.
    assert 'href="?q=smith&amp;sort=name"' in body
    sorted_by_name = client_for(who).get(reverse(LIST), {"q": "smith", "sort": "name"})
    assert _names(sorted_by_name) == by_name
    assert "Best matches first" not in sorted_by_name.content.decode()


def test_every_filter_and_every_word_apply_to_both_blocks(owner_client, owner, teammate, outsider):
    _smiths_and_others(owner, teammate, outsider)
    ContactFactory(owner=owner, first_name="Dora", last_name="Goldsmith", lifecycle_stage="customer")
    ContactFactory(owner=owner, first_name="Carl", last_name="Smith", archived_at="2026-01-01T00:00:00Z")
    response = owner_client.get(reverse(LIST), {"q": "smith", "stage": "customer"})
    assert _names(response) == ["Carl Smith", "Dora Goldsmith"]
    # Two words: both must match; the block is those whose surname is one of them.
    assert _names(owner_client.get(reverse(LIST), {"q": "carl smith"})) == ["Carl Smith"]
    assert _names(owner_client.get(reverse(LIST), {"q": "zoe smith"})) == ["Zoe Goldsmith"]
    archived = owner_client.get(reverse(LIST), {"q": "smith", "archived": "1"})
    assert _names(archived) == ["Carl Smith"]


def test_a_phone_number_search_is_in_name_order_without_the_note(owner_client, owner):
    ContactFactory(owner=owner, first_name="Yan", last_name="Zorin", phone="+79161234567")
    ContactFactory(owner=owner, first_name="Ann", last_name="Abel", mobile="+79161234567")
    response = owner_client.get(reverse(LIST), {"q": "+7 916 123-45-67"})
    assert _names(response) == ["Ann Abel", "Yan Zorin"]
    assert "Best matches first" not in response.content.decode()


def _all_pages(tiers, size):
    """Every page, forward from the first, and the last page's count."""
    pages, after = [], ""
    while True:
        page, count, more = tiered_search_page(tiers, rows_by_id=_rows, after=after, size=size)
        pages.append(page)
        if not page.has_next:
            return pages, (count, more)
        after = page.next_cursor


def _rows(ids):
    return Contact.objects.filter(pk__in=ids)


def test_pages_go_forward_and_back_across_the_end_of_the_surname_block(owner):
    smiths = [ContactFactory(owner=owner, first_name=f"P{i:02d}", last_name="Smith") for i in range(11)]
    others = [
        ContactFactory(owner=owner, first_name="Q", last_name=f"Adams{i:02d}", email=f"q{i}@smithco.example")
        for i in range(8)
    ]
    tiers = contact_search_tiers(owner, ListFilters(q="smith"))
    expected = [c.pk for c in smiths] + [c.pk for c in others]
    for size in (4, 5, 11, 19, 30):
        pages, counted = _all_pages(tiers, size)
        assert [row.pk for page in pages for row in page.rows] == expected
        assert counted == (19, False)
        assert [page.has_previous for page in pages] == [False] + [True] * (len(pages) - 1)
        # Back from the last page: the page before it, exactly (across the block's end too).
        for earlier, later in zip(pages, pages[1:], strict=False):
            back, _count, _more = tiered_search_page(tiers, rows_by_id=_rows, before=later.previous_cursor, size=size)
            assert [row.pk for row in back.rows] == [row.pk for row in earlier.rows]
            assert back.has_next is True
            assert back.has_previous is (earlier is not pages[0])


def _cursor(values) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        _cursor([2, "smith", "p", 1]),  # no third block
        _cursor([-1, "smith", "p", 1]),
        _cursor(["0", "smith", "p", 1]),
        _cursor([0, "smith", "p"]),
        _cursor([0, "smith", "p", "1"]),
        _cursor([0, 5, 6, 7]),  # numbers where the names go
        _cursor([1, 5, 6, 7]),
        _cursor([1, {"dt": "2026-01-01T00:00:00"}, "p", 7]),
        "not-a-cursor",
    ],
)
def test_a_malformed_cursor_opens_the_first_page(owner_client, owner, cursor):
    ContactFactory(owner=owner, first_name="Bob", last_name="Smith")
    ContactFactory(owner=owner, first_name="Ann", last_name="Adams", email="ann@smithco.example")
    response = owner_client.get(reverse(LIST), {"q": "smith", "after": cursor})
    assert response.status_code == 200
    assert _names(response) == ["Bob Smith", "Ann Adams"]


def test_a_surname_block_over_the_cap_is_counted_without_reading_the_other_matches(
    owner, admin_user, django_assert_num_queries
):
    Contact.objects.bulk_create([Contact(owner=owner, first_name=f"P{i}", last_name="Smith") for i in range(1001)])
    ContactFactory(owner=owner, first_name="Ann", last_name="Adams", email="ann@smithco.example")
    for viewer in (admin_user, owner):
        search = contact_search_tiers(viewer, ListFilters(q="smith"))
        # The page's Smiths, the count, the rows.
        with django_assert_num_queries(3) as captured:
            page, count, more = tiered_search_page(search, rows_by_id=lambda ids: list(_rows(ids)), size=50)
        assert (len(page.rows), count, more) == (50, 1000, True)
        assert {row.last_name for row in page.rows} == {"Smith"}
        counts = [q["sql"] for q in captured.captured_queries if "COUNT(" in q["sql"]]
        if viewer is admin_user:
            # The admin's count: the Smiths alone, capped (they pass the cap).
            assert len(counts) == 1 and "LIMIT 1001" in counts[0] and "LIKE" not in counts[0]
        else:
            # A rep's: all their matches at once, from the search index scoped to their owners.
            assert len(counts) == 1 and "search_text" in counts[0] and "LIMIT" not in counts[0]


def test_the_export_of_a_search_follows_the_list_order(owner_client, owner, teammate, outsider):
    _smiths_and_others(owner, teammate, outsider)
    response = owner_client.get(reverse("contacts:contact-export", args=["csv"]), {"q": "smith"})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert [f"{row[0]} {row[1]}" for row in rows[1:]] == [
        "Anna SMITH",
        "Bob Smith",
        "Carl Smith",
        "Karen Adams",
        "Zoe Goldsmith",
    ]


def test_the_contact_picker_offers_the_best_matches_first(owner, teammate, outsider, owner_client):
    _smiths_and_others(owner, teammate, outsider)
    assert [c.full_name for c in contact_options(owner, "smith")] == _NORTH
    assert [c.full_name for c in contact_options(owner, "smith", limit=2)] == _NORTH[:2]
    assert [c.full_name for c in contact_options(owner, "smith", limit=4)] == _NORTH[:4]
    assert [c.full_name for c in contact_options(outsider, "smith")] == ["Aaron Smith", "Alan Arrowsmith"]
    html = owner_client.get(reverse("contacts:contact-options"), {"contact_q": "smith"}).content.decode()
    assert html.index("Anna SMITH") < html.index("Karen Adams") < html.index("Zoe Goldsmith")
