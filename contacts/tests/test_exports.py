"""Exports of the company and contact lists (and the shared escaping in crm/exports.py)."""

import csv
import io
from decimal import Decimal

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from contacts.tests.factories import CompanyFactory, ContactFactory
from crm.exports import safe_cell, unescape_cell


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_every_formula_start_is_escaped_and_undone_on_import(start):
    value = f"{start}HYPERLINK(1)"
    assert safe_cell(value) == f"'{value}"
    assert unescape_cell(safe_cell(value)) == value


def test_plain_text_numbers_and_dates_are_left_alone():
    assert safe_cell("Acme") == "Acme"
    assert safe_cell("'quoted") == "'quoted"
    assert safe_cell(Decimal("-5.00")) == Decimal("-5.00")
    assert safe_cell(-3) == -3
    assert safe_cell(None) == ""


def csv_rows(response):
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(body)))


def xlsx_rows(response):
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True)
    return [list(row) for row in workbook.worksheets[0].iter_rows(values_only=True)]


@pytest.fixture
def people(owner, teammate, outsider):
    acme = CompanyFactory(owner=owner, name='=HYPERLINK("http://evil")', domain="acme.example", country="DE")
    ContactFactory(owner=owner, first_name="@SUM", last_name="Alpha", company=acme, country="DE", phone="+4930123")
    ContactFactory(owner=teammate, first_name="Tina", last_name="Beta", country="US")
    ContactFactory(owner=outsider, first_name="Hidden", last_name="Gamma", country="DE")
    CompanyFactory(owner=outsider, name="Hidden Corp")
    return acme


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_contacts_export_only_visible_rows_escaped(owner_client, people, fmt):
    response = owner_client.get(reverse("contacts:contact-export", args=[fmt]))
    rows = csv_rows(response) if fmt == "csv" else xlsx_rows(response)
    assert rows[0][:4] == ["First name", "Last name", "Job title", "Email"]
    # CSV: an apostrophe keeps a formula-like cell text; XLSX: a string cell needs none.
    esc = "'" if fmt == "csv" else ""
    names = [(r[0], r[1]) for r in rows[1:]]
    assert names == [(esc + "@SUM", "Alpha"), ("Tina", "Beta")]  # sorted by name like the list, no outsider
    assert rows[1][5] == esc + "+4930123" and rows[1][7] == esc + '=HYPERLINK("http://evil")'


def test_xlsx_text_cells_are_strings_never_formulas(owner_client, people):
    response = owner_client.get(reverse("contacts:contact-export", args=["xlsx"]))
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).worksheets[0]
    alpha = next(row for row in sheet.iter_rows(min_row=2) if row[1].value == "Alpha")
    assert (alpha[0].value, alpha[0].data_type) == ("@SUM", "s")
    assert (alpha[7].value, alpha[7].data_type) == ('=HYPERLINK("http://evil")', "s")


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_contact_export_follows_the_filters_and_sort(owner_client, people, fmt):
    url = reverse("contacts:contact-export", args=[fmt])
    rows = (csv_rows if fmt == "csv" else xlsx_rows)(owner_client.get(url, {"country": "US"}))
    assert [r[1] for r in rows[1:]] == ["Beta"]
    rows = (csv_rows if fmt == "csv" else xlsx_rows)(owner_client.get(url, {"sort": "-name"}))
    assert [r[1] for r in rows[1:]] == ["Beta", "Alpha"]
    rows = (csv_rows if fmt == "csv" else xlsx_rows)(owner_client.get(url, {"q": "tina"}))
    assert [r[1] for r in rows[1:]] == ["Beta"]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_company_export_only_visible_rows_with_filters(owner_client, outsider_client, people, fmt):
    url = reverse("contacts:company-export", args=[fmt])
    read = csv_rows if fmt == "csv" else xlsx_rows
    rows = read(owner_client.get(url))
    assert [r[0] for r in rows[1:]] == [("'" if fmt == "csv" else "") + '=HYPERLINK("http://evil")']
    assert rows[1][10] == "DE" and str(rows[1][16]) == "1"  # country code, contact count
    assert read(owner_client.get(url, {"country": "US"}))[1:] == []
    assert [r[0] for r in read(outsider_client.get(url))[1:]] == ["Hidden Corp"]


def test_an_unknown_format_is_404(owner_client):
    assert owner_client.get(reverse("contacts:contact-export", args=["pdf"])).status_code == 404


def test_an_exported_contacts_file_imports_back_with_its_headers_recognised(owner_client, people):
    from contacts.imports import guess_mapping

    header = csv_rows(owner_client.get(reverse("contacts:contact-export", args=["csv"])))[0]
    mapped = set(guess_mapping(header, "contacts").values())
    assert {"first_name", "last_name", "email", "phone", "mobile", "company", "country", "owner"} <= mapped


def test_the_export_buttons_keep_the_list_filters(owner_client, people):
    page = owner_client.get(reverse("contacts:contact-list"), {"country": "US"}).content.decode()
    assert reverse("contacts:contact-export", args=["xlsx"]) + "?" in page
    assert "country=US" in page.split(reverse("contacts:contact-export", args=["csv"]))[1][:200]
