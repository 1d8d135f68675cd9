import pytest

from contacts.normalize import (
    PhoneResult,
    domain_from_website,
    format_phone,
    looks_like_phone,
    normalize_email,
    normalize_phone,
)


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("8 (916) 123-45-67", "RU", "+79161234567"),
        ("+7 495 123 45 67", None, "+74951234567"),
        ("84951234567", "RU", "+74951234567"),
        ("138 0013 8000", "CN", "+8613800138000"),
        ("010 6552 9988", "CN", "+861065529988"),
        ("+86 21 6888 8888", "US", "+862168888888"),
        ("(415) 555-2671", "US", "+14155552671"),
        ("1-212-456-7890", None, "+12124567890"),
        ("030 12345678", "DE", "+493012345678"),
        ("+49 (0)89 1234567", None, "+49891234567"),
        ("0171 2345678", "DE", "+491712345678"),
    ],
)
def test_it_normalises_phones_typed_in_local_formats_to_e164(raw, region, expected, settings):
    settings.DEFAULT_PHONE_REGION = "US"
    assert normalize_phone(raw, region) == PhoneResult(expected, True)


def test_it_uses_the_default_region_for_numbers_without_a_country_code(settings):
    settings.DEFAULT_PHONE_REGION = "DE"
    assert normalize_phone("030 12345678").e164 == "+493012345678"


@pytest.mark.parametrize("raw", ["12345", "call reception", "+7 123", "8 800"])
def test_it_reports_an_invalid_phone_and_keeps_it_as_typed(raw):
    result = normalize_phone(f"  {raw} ", "RU")
    assert result == PhoneResult(raw, False)


def test_an_empty_phone_is_valid_and_empty():
    assert normalize_phone("   ", "RU") == PhoneResult("", True)


def test_it_formats_e164_for_reading_and_leaves_other_text_alone():
    assert format_phone("+79161234567") == "+7 916 123-45-67"
    assert format_phone("ext. 204") == "ext. 204"


@pytest.mark.parametrize(
    ("query", "expected"),
    [("+1 (415) 555-2671", True), ("8 916 123 45 67", True), ("1234", False), ("Acme 2000", False), ("anna", False)],
)
def test_it_tells_a_phone_query_from_a_name(query, expected):
    assert looks_like_phone(query) is expected


def test_it_lowercases_and_trims_emails():
    assert normalize_email("  Anna.Petrova@Example.COM ") == "anna.petrova@example.com"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://www.Example.com/about?x=1", "example.com"),
        ("example.com", "example.com"),
        ("http://shop.example.co.uk:8080", "shop.example.co.uk"),
        ("WWW.Acme.de", "acme.de"),
        ("sales@acme.io", "acme.io"),
        ("пример.рф", "xn--e1afmkfd.xn--p1ai"),
        ("", ""),
    ],
)
def test_it_reduces_a_website_to_its_domain(raw, expected):
    assert domain_from_website(raw) == expected


@pytest.mark.parametrize("raw", ["not a domain", "http://localhost", "acme", "http://exa mple.com"])
def test_it_rejects_what_is_not_a_domain(raw):
    with pytest.raises(ValueError):
        domain_from_website(raw)
