"""The strict parsers every view uses for query and form values (crm/params.py)."""

import datetime as dt

import pytest
from django.http import QueryDict
from django.test import RequestFactory

from crm.params import (
    MAX_ID,
    BadParameter,
    clean_text,
    id_or_none,
    int_or_none,
    optional_date,
    optional_id,
    parse_choice,
    parse_date,
    parse_id,
    parse_int,
    parse_month,
    safe_next,
)


@pytest.mark.parametrize("raw", ["²", "٣", "1.5", "1e3", " ", "", "0x10", "+1", "-1", "1 2", "a\x00b", str(MAX_ID + 1)])
def test_parse_id_refuses_anything_but_ascii_digits_within_bigint(raw):
    with pytest.raises(BadParameter):
        parse_id(raw, name="team")


def test_parse_id_takes_ascii_digits_up_to_bigint_max():
    assert parse_id("42") == 42
    assert parse_id(f" {MAX_ID} ") == MAX_ID
    with pytest.raises(BadParameter):
        parse_id("0")


def test_parse_int_takes_a_sign_only_when_negatives_are_allowed():
    assert parse_int("-5", minimum=-10) == -5
    with pytest.raises(BadParameter):
        parse_int("-5")
    with pytest.raises(BadParameter):
        parse_int("11", maximum=10)


def test_optional_values_are_none_when_absent_or_empty_and_400_when_malformed():
    params = QueryDict("team=&owner=7&bad=²")
    assert optional_id(params, "team") is None
    assert optional_id(params, "missing") is None
    assert optional_id(params, "owner") == 7
    with pytest.raises(BadParameter) as raised:
        optional_id(params, "bad")
    assert raised.value.name == "bad"


def test_the_lenient_forms_answer_none_instead_of_raising():
    assert id_or_none("²") is None
    assert id_or_none(None) is None
    assert id_or_none(True) is None
    assert id_or_none(5) == 5
    assert id_or_none("5") == 5
    assert int_or_none("0") == 0
    assert int_or_none(str(MAX_ID + 1)) is None


@pytest.mark.parametrize("raw", ["9999-12-31", "0001-01-01", "1899-12-31", "3000-01-01", "2025-02-30", "2025-1-1", "²"])
def test_parse_date_refuses_dates_outside_the_supported_years_or_malformed(raw):
    with pytest.raises(BadParameter):
        parse_date(raw)


def test_parse_date_and_month_within_range():
    assert parse_date("2026-12-03") == dt.date(2026, 12, 3)
    assert optional_date(QueryDict(""), "date", default=dt.date(2000, 1, 1)) == dt.date(2000, 1, 1)
    assert parse_month("2999-12") == dt.date(2999, 12, 1)
    for raw in ("0001-01", "9999-12", "2025-13", "2025-00", "2025"):
        with pytest.raises(BadParameter):
            parse_month(raw)


def test_clean_text_refuses_nul_and_cuts_to_length():
    assert clean_text("  abc  ", max_length=2) == "ab"
    assert clean_text(None) == ""
    with pytest.raises(BadParameter):
        clean_text("a\x00b")


def test_parse_choice_takes_only_the_fixed_set():
    assert parse_choice("week", ("week", "month"), default="month") == "week"
    assert parse_choice("", ("week", "month"), default="month") == "month"
    with pytest.raises(BadParameter):
        parse_choice("year", ("week", "month"), default="month")


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/deals/1/", "/deals/1/"),
        ("x", "/fallback/"),
        ("deals:list", "/fallback/"),
        ("//evil.example/", "/fallback/"),
        ("https://evil.example/", "/fallback/"),
        ("javascript:alert(1)", "/fallback/"),
        ("/\\evil.example", "/fallback/"),
        ("", "/fallback/"),
    ],
)
def test_safe_next_accepts_only_a_path_on_this_site(target, expected):
    request = RequestFactory().post("/", {"next": target})
    assert safe_next(request, "/fallback/") == expected
