"""The contact and company lists with no filter read their first page and capped count with
SQL compiled once per process (contacts.selectors.unfiltered_first_page): the same rows,
cursors and count as the queries built for the viewer, and each viewer's own access. A
search reads its page's rows by id the same way (contacts.selectors.list_rows_by_id)."""

import pytest
from django.urls import reverse
from django.utils import timezone

from contacts.keyset import capped_count, keyset_page
from contacts.models import Company, Contact
from contacts.selectors import (
    COMPANY_ROW_FIELDS,
    CONTACT_ROW_FIELDS,
    ListFilters,
    company_list,
    company_sorts,
    contact_list,
    contact_sorts,
    list_rows_by_id,
    unfiltered_first_page,
)
from contacts.tests.factories import CompanyFactory, ContactFactory
from crm.backends import load_request_user
from crm.rows import list_rows

pytestmark = pytest.mark.django_db

KINDS = {
    "contact": (contact_list, CONTACT_ROW_FIELDS, contact_sorts),
    "company": (company_list, COMPANY_ROW_FIELDS, company_sorts),
}


@pytest.fixture
def records(owner, teammate, outsider):
    for n in range(7):
        person = (owner, teammate, outsider)[n % 3]
        company = CompanyFactory(owner=person, name=f"Firm {n:02d}")
        ContactFactory(owner=person, company=company, first_name=f"P{n}", last_name=f"Person {n:02d}")


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("who", ["owner", "teammate", "outsider", "manager", "admin_user"])
def test_the_compiled_first_page_is_the_page_the_built_query_finds(request, records, kind, who):
    user = load_request_user(request.getfixturevalue(who).pk)
    selector, fields, sorts = KINDS[kind]
    for sort in ("name", "-name", "-created"):
        page, count, more = unfiltered_first_page(user, kind, sort, size=4)
        qs = list_rows(selector(user, ListFilters()), fields)
        built = keyset_page(qs, sorts()[sort], size=4)
        assert page == built
        assert (count, more) == capped_count(qs)


def test_each_viewer_sees_only_their_records_on_the_unfiltered_lists(records, owner_client, outsider_client):
    for url in (reverse("contacts:contact-list"), reverse("contacts:company-list")):
        north = owner_client.get(url, {"view": "all"}).content.decode()
        south = outsider_client.get(url, {"view": "all"}).content.decode()
        assert "Person 00" in north or "Firm 00" in north
        assert "Person 02" not in north and "Firm 02" not in north
        assert "Person 02" in south or "Firm 02" in south
        assert "Person 00" not in south and "Firm 00" not in south


@pytest.mark.parametrize("url_name", ["contacts:contact-list", "contacts:company-list"])
@pytest.mark.parametrize("params", [{}, {"stage": "lead"}, {"q": "person"}])
def test_the_lists_count_reads_the_records_table_alone(records, owner_client, url_name, params):
    """The capped count joins no owner or company (PostgreSQL keeps an inner join even when
    nothing reads it; without it a rep's count is an index-only scan), filtered or not."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert owner_client.get(reverse(url_name), params).status_code == 200
    table = "contacts_contact" if url_name == "contacts:contact-list" else "contacts_company"
    # Unfiltered, the count is a prepared statement: its SQL is in pg_prepared_statements.
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    counts = [sql for sql in [q["sql"] for q in queries.captured_queries] + prepared if "COUNT(*)" in sql]
    counts = [sql for sql in counts if f'FROM "{table}"' in sql]
    assert counts
    for sql in counts:
        assert "JOIN" not in sql.split("LIMIT")[0], sql


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("who", ["owner", "teammate", "outsider", "manager", "admin_user"])
def test_a_searchs_rows_by_id_are_the_built_rows_of_the_ids_the_viewer_may_see(request, records, kind, who):
    user = load_request_user(request.getfixturevalue(who).pk)
    selector, fields, _sorts = KINDS[kind]
    model = Contact if kind == "contact" else Company
    ids = list(model.objects.values_list("pk", flat=True))  # everyone's, hidden ones too
    # An archived match too (a search of the archived records): the rows are read by id alone.
    model.objects.filter(pk__in=ids[:2]).update(archived_at=timezone.now())
    visible = {
        row["id"]: row
        for archived in (False, True)
        for row in list_rows(selector(user, ListFilters(archived=archived)), fields)
    }
    found = {row["id"]: row for row in list_rows_by_id(user, kind, ids)}
    assert found == {pk: visible[pk] for pk in ids if pk in visible}
    assert 0 < len(found) < len(ids) or who == "admin_user"
    assert list_rows_by_id(user, kind, []) == []


def test_a_search_shows_the_matches_the_viewer_may_see_and_no_other(records, owner_client, outsider_client):
    for url in (reverse("contacts:contact-list"), reverse("contacts:company-list")):
        north = owner_client.get(url, {"q": "0"}).content.decode()  # "Person 00", "Firm 00"…
        south = outsider_client.get(url, {"q": "0"}).content.decode()
        assert ("Person 00" in north or "Firm 00" in north) and ("Person 03" in north or "Firm 03" in north)
        assert "Person 02" not in north and "Firm 02" not in north
        assert "Person 02" in south or "Firm 02" in south
        assert "Person 00" not in south and "Firm 00" not in south
