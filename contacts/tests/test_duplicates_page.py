"""The nightly candidate refresh and the Duplicates page."""

import logging
from datetime import date

import pytest
from django.urls import reverse

from contacts import duplicates, linkage
from contacts.duplicates import duplicates_refresh
from contacts.models import Contact, DuplicateCandidate
from contacts.tasks import refresh_duplicates
from contacts.tests.factories import CompanyFactory, ContactFactory

SURNAMES = [
    "Abbott",
    "Brennan",
    "Castillo",
    "Dawson",
    "Eriksen",
    "Fontaine",
    "Gallagher",
    "Holloway",
    "Ibarra",
    "Jankowski",
    "Kowalczyk",
    "Lindqvist",
    "Montgomery",
    "Nakamura",
    "Okonkwo",
    "Pemberton",
    "Quintero",
    "Rasmussen",
    "Sokolov",
    "Thornton",
    "Underwood",
    "Valentini",
    "Whitfield",
    "Xenakis",
    "Yamamoto",
    "Zielinski",
    "Bogdanov",
    "Cartwright",
    "Drummond",
    "Esposito",
]


@pytest.fixture
def pair(owner, company):
    """Two contacts of one person: a typo in the name, the same e-mail in another case."""
    a = ContactFactory(owner=owner, company=company, first_name="Anna", last_name="Petrova", email="anna@acme.example")
    b = ContactFactory(owner=owner, company=company, first_name="Anna", last_name="Petorva", email="anna@acme.example")
    return a, b


def test_the_refresh_stores_each_pair_once_in_canonical_order_with_reasons(pair, caplog):
    a, b = pair
    with caplog.at_level(logging.INFO, logger="contacts.duplicates"):
        reports = duplicates_refresh()
    candidate = DuplicateCandidate.objects.get(kind="contact")
    assert (candidate.contact_a, candidate.contact_b) == (a, b)
    assert candidate.score >= 95  # the match probability in per cent
    reasons = {r["field"]: (r["level"], r["weight"]) for r in candidate.reasons}
    assert reasons["email"][0] == "exact" and reasons["email"][1] > 0
    assert reasons["last_name"][0] == "jw92" and reasons["first_name"][0] == "exact"
    assert reasons["company"][0] == "exact"
    assert candidate.status == "open"
    contact_report = next(r for r in reports if r.kind == "contact")
    assert contact_report.records == 2 and contact_report.candidates == 1
    assert "duplicates refresh: contact: 2 records" in caplog.text  # the time is logged, not asserted


def test_a_dismissed_pair_stays_dismissed_and_a_pair_no_longer_found_goes(pair, owner):
    a, b = pair
    duplicates_refresh()
    candidate = DuplicateCandidate.objects.get()
    duplicates.duplicate_dismiss(actor=owner, candidate=candidate)
    born = {"birth_date": date(1980, 4, 6), "email": ""}
    c = ContactFactory(owner=owner, first_name="Boris", last_name="Ivanov", phone="+79161234567", **born)
    d = ContactFactory(owner=owner, first_name="Boris", last_name="Ivanov", mobile="+79161234567", **born)
    duplicates_refresh()
    assert DuplicateCandidate.objects.get(contact_a=a).status == "dismissed"
    assert DuplicateCandidate.objects.filter(contact_a=c, contact_b=d, status="open").exists()
    d.phone, d.mobile, d.first_name, d.last_name, d.birth_date = "", "", "Vera", "Ivanova", None
    d.save()
    refresh_duplicates.apply()
    assert not DuplicateCandidate.objects.filter(contact_a=c).exists()
    assert DuplicateCandidate.objects.get(contact_a=a).status == "dismissed"


def test_archived_records_are_not_paired(pair, owner):
    a, b = pair
    b.archived_at = b.created_at
    b.save()
    duplicates_refresh()
    assert not DuplicateCandidate.objects.exists()


def test_a_key_shared_by_too_many_records_is_skipped(owner, monkeypatch):
    monkeypatch.setattr(duplicates, "BLOCK_CAP", 3)
    for n in range(4):  # a switchboard number and nothing else in common
        ContactFactory(owner=owner, first_name="Pat", last_name=SURNAMES[n], email="", phone="+14155550100")
    assert duplicates.blocking_pairs("contact") == set()


def test_a_big_block_of_a_common_name_pairs_neighbours_not_everyone(owner, monkeypatch):
    monkeypatch.setattr(duplicates, "WEAK_BLOCK", 3)
    # Eight "Smith"s with a first name on J: one phonetic-name key, a block over WEAK_BLOCK.
    names = ["James", "John", "Joan", "Judy", "Jacob", "Jason", "Julia", "Jerome"]
    for n, first in enumerate(names):
        ContactFactory(owner=owner, first_name=first, last_name="Smith", email="", phone="",
                       birth_date=date(1950 + n, 1, 1))  # fmt: skip
    # Two of them born on one day, and the same name twice without a birth date.
    twin = ContactFactory(owner=owner, first_name="Jack", last_name="Smith", email="", phone="",
                          birth_date=date(1953, 1, 1))  # fmt: skip
    again = ContactFactory(owner=owner, first_name="Jasper", last_name="Smyth", email="", phone="")
    ContactFactory(owner=owner, first_name="Jasper", last_name="Smyth", email="", phone="")
    pairs = duplicates.blocking_pairs("contact")
    everyone = 11 * 10 // 2
    assert len(pairs) < everyone / 2
    judy = Contact.objects.get(first_name="Judy")
    assert (judy.pk, twin.pk) in pairs  # the same birth date in a big block
    assert any(again.pk in pair for pair in pairs)
    # The Python mirror used by bench/dedupe_blocking.py proposes the very same pairs.
    rows = list(Contact.objects.order_by("id").values(*duplicates.CONTACT_VALUES, "dedupe_keys"))
    people = [linkage.person(row) for row in rows]
    mirror = duplicates.blocked_pairs_of(people, [row["dedupe_keys"] for row in rows])
    ids = [row["id"] for row in rows]
    assert {(ids[a], ids[b]) for found in mirror.values() for a, b in found} == pairs


def test_a_postcode_slip_still_pairs_the_records_of_one_address(owner, monkeypatch):
    monkeypatch.setattr(duplicates, "WEAK_BLOCK", 3)
    home = {"first_name": "伟", "last_name": "王", "email": "", "phone": "", "street": "辛集路L座", "city": "苏州市"}
    a = ContactFactory(owner=owner, postcode="215000", **home)
    # Eight namesakes without a birth date elsewhere: a big block of the name, whose records
    # are paired with their neighbours by postcode.
    for n in range(8):
        ContactFactory(owner=owner, first_name="伟", last_name="王", email="", phone="",
                       street=f"{SURNAMES[n]} Road 5", city="Suzhou", postcode=f"{3 + n // 2}15000")  # fmt: skip
    b = ContactFactory(owner=owner, postcode="815000", **home)  # one slip: the other end of that order
    pairs = duplicates.blocking_pairs("contact")
    assert (a.pk, b.pk) in pairs
    rows = list(Contact.objects.order_by("id").values(*duplicates.CONTACT_VALUES, "dedupe_keys"))
    mirror = duplicates.blocked_pairs_of([linkage.person(row) for row in rows], [row["dedupe_keys"] for row in rows])
    ids = [row["id"] for row in rows]
    assert (ids.index(a.pk), ids.index(b.pk)) in mirror["a"]  # by the street in its city
    assert {(ids[x], ids[y]) for found in mirror.values() for x, y in found} == pairs


def test_records_without_a_birth_date_are_not_neighbours_by_birth_date(owner, monkeypatch):
    monkeypatch.setattr(duplicates, "WEAK_BLOCK", 3)
    # Six namesakes without a birth date, created in an order their postcodes do not follow.
    postcodes = ["10001", "10003", "10005", "10002", "10004", "10006"]
    made = [
        ContactFactory(
            owner=owner, first_name="Jasper", last_name="Smyth", email="", phone="", street="", postcode=code
        )
        for code in postcodes
    ]
    by_postcode = sorted(made, key=lambda c: c.postcode)
    neighbours = {
        (min(x.pk, y.pk), max(x.pk, y.pk))
        for n, x in enumerate(by_postcode)
        for y in by_postcode[n + 1 : n + 1 + duplicates.WINDOW]
    }
    pairs = duplicates.blocking_pairs("contact")
    # Their neighbours by postcode, not also those by creation (where a missing date put them).
    assert pairs == neighbours
    rows = list(Contact.objects.order_by("id").values(*duplicates.CONTACT_VALUES, "dedupe_keys"))
    mirror = duplicates.blocked_pairs_of([linkage.person(row) for row in rows], [row["dedupe_keys"] for row in rows])
    ids = [row["id"] for row in rows]
    assert {(ids[x], ids[y]) for found in mirror.values() for x, y in found} == pairs


def test_companies_are_refreshed_too(owner):
    a = CompanyFactory(owner=owner, name="Northwind Traders", domain="northwind.example")
    b = CompanyFactory(owner=owner, name="NORTHWIND TRADERS INC", domain="northwind.example")
    duplicates_refresh()
    candidate = DuplicateCandidate.objects.get(kind="company")
    assert (candidate.company_a, candidate.company_b) == (a, b)


# --- The page -----------------------------------------------------------------------------


def test_the_page_lists_pairs_with_score_and_reasons(owner_client, pair):
    duplicates_refresh()
    body = owner_client.get(reverse("contacts:duplicates")).content.decode()
    a, b = pair
    assert a.get_absolute_url() in body and b.get_absolute_url() in body
    assert "same email +" in body and "% likely" in body
    assert (
        reverse("contacts:contact-merge", args=[a.pk, b.pk]) in body
        or reverse("contacts:contact-merge", args=[b.pk, a.pk]) in body
    )


@pytest.mark.parametrize(("who", "sees", "can_merge"), [
    ("owner", True, True), ("teammate", True, False), ("manager", True, True), ("admin", True, True),
    ("outsider", False, False),
])  # fmt: skip
def test_the_page_shows_pairs_to_whoever_may_see_both(client_for, pair, who, sees, can_merge):
    duplicates_refresh()
    response = client_for(who).get(reverse("contacts:duplicates"))
    assert response.status_code == 200
    body = response.content.decode()
    assert ("same email +" in body) is sees
    assert ("Not a duplicate</button>" in body) is can_merge


def test_a_pair_with_one_record_the_user_may_not_see_is_left_out(owner, outsider, owner_client):
    ContactFactory(owner=owner, first_name="Anna", last_name="Petrova", email="anna@acme.example")
    ContactFactory(owner=outsider, first_name="Anna", last_name="Petrova", email="anna@acme.example")
    duplicates_refresh()
    assert DuplicateCandidate.objects.count() == 1
    assert "anna@acme.example" not in owner_client.get(reverse("contacts:duplicates")).content.decode()


def test_the_page_filters_by_owner_and_kind(owner, teammate, teammate_client, pair):
    CompanyFactory(owner=teammate, name="Northwind Traders", domain="northwind.example")
    CompanyFactory(owner=teammate, name="Northwind Traders Inc", domain="northwind.example")
    duplicates_refresh()
    url = reverse("contacts:duplicates")
    assert "anna@acme.example" in teammate_client.get(url, {"owner": owner.pk}).content.decode()
    assert "anna@acme.example" not in teammate_client.get(url, {"owner": teammate.pk}).content.decode()
    body = teammate_client.get(url, {"kind": "company", "owner": teammate.pk}).content.decode()
    assert "northwind.example" in body and "anna@acme.example" not in body


def test_the_page_pages_by_score_with_a_constant_number_of_queries(owner, owner_client, django_assert_max_num_queries):
    for n, name in enumerate(SURNAMES):
        ContactFactory(owner=owner, first_name="Ivan", last_name=name, email=f"p{n}@example.com")
        ContactFactory(owner=owner, first_name="Ivan", last_name=name, email=f"p{n}@example.com")
    duplicates_refresh()
    assert DuplicateCandidate.objects.count() == 30
    url = reverse("contacts:duplicates")
    with django_assert_max_num_queries(10):
        first = owner_client.get(url)
    page = first.context["page"]
    assert len(page.rows) == 25 and page.has_next
    with django_assert_max_num_queries(10):
        second = owner_client.get(url, {"after": page.next_cursor})
    seen = {row.pk for row in page.rows} | {row.pk for row in second.context["page"].rows}
    assert len(seen) == 30 and not second.context["page"].has_next


@pytest.mark.parametrize(("who", "status"), [("owner", 302), ("manager", 302), ("teammate", 403), ("outsider", 404)])
def test_not_a_duplicate_needs_edit_rights_on_both(client_for, pair, who, status):
    duplicates_refresh()
    candidate = DuplicateCandidate.objects.get()
    response = client_for(who).post(reverse("contacts:duplicate-dismiss", args=[candidate.pk]))
    assert response.status_code == status
    candidate.refresh_from_db()
    assert (candidate.status == "dismissed") is (status == 302)


def test_refresh_now_is_for_managers_and_admins(client_for, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert client_for("owner").post(reverse("contacts:duplicates-refresh")).status_code == 403
    assert callbacks == []
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client_for("manager").post(reverse("contacts:duplicates-refresh"))
    assert response.status_code == 302
    assert len(callbacks) == 1  # the task is enqueued once the request's transaction commits


def test_a_record_page_links_to_its_open_duplicates(owner_client, teammate_client, outsider_client, pair):
    a, b = pair
    duplicates_refresh()
    assert "This record may have 1 duplicate." in owner_client.get(a.get_absolute_url()).content.decode()
    assert "This record may have" in teammate_client.get(b.get_absolute_url()).content.decode()
    duplicates.duplicate_dismiss(actor=a.owner, candidate=DuplicateCandidate.objects.get())
    assert "This record may have" not in owner_client.get(a.get_absolute_url()).content.decode()


def test_the_lists_and_navigation_link_to_the_pages(owner_client):
    body = owner_client.get(reverse("contacts:contact-list")).content.decode()
    assert reverse("contacts:duplicates") + "?kind=contact" in body
    assert reverse("contacts:data-quality") in body
    assert (
        reverse("contacts:duplicates") + "?kind=company"
        in owner_client.get(reverse("contacts:company-list")).content.decode()
    )
