"""Normalising what people type into phones, emails and domains.

Forms, services, search, demo data and (later) import and duplicate detection all go through
these functions, so a value typed in any format is stored and found the same way.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import phonenumbers
from django.conf import settings

_DOMAIN_RE = re.compile(
    r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$"
)
_NON_DIGITS = re.compile(r"\D")


@dataclass(frozen=True)
class PhoneResult:
    """``e164`` is the E.164 form when ``valid``; otherwise the input as typed (trimmed)."""

    e164: str
    valid: bool


def normalize_phone(raw: str, region: str | None = None) -> PhoneResult:
    """Parse ``raw`` as typed by a person; ``region`` (ISO 3166 alpha-2) applies to numbers
    without a country code and falls back to ``DEFAULT_PHONE_REGION``.

    An empty input is valid and stays empty.
    """
    text = (raw or "").strip()
    if not text:
        return PhoneResult("", True)
    try:
        number = phonenumbers.parse(text, (region or settings.DEFAULT_PHONE_REGION).upper())
    except phonenumbers.NumberParseException:
        return PhoneResult(text, False)
    if not phonenumbers.is_valid_number(number):
        return PhoneResult(text, False)
    return PhoneResult(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), True)


@functools.lru_cache(maxsize=8192)
def format_phone(value: str) -> str:
    """E.164 shown the way people read it (``+7 916 123-45-67``); anything else unchanged.
    Cached: parsing with phonenumbers costs ~0.1 ms, and a list page shows 50 numbers."""
    if not value.startswith("+"):
        return value
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return value
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def phone_digits(raw: str) -> str:
    return _NON_DIGITS.sub("", raw or "")


def looks_like_phone(query: str) -> bool:
    """True for search input that is a phone number typed in any format ("+1 (415) 555-0100")."""
    digits = phone_digits(query)
    return len(digits) >= 5 and len(digits) >= len(re.sub(r"[\s()+\-./]", "", query))


def normalize_email(raw: str) -> str:
    return (raw or "").strip().lower()


def domain_from_website(raw: str) -> str:
    """``https://www.Example.com/about`` → ``example.com``; ``""`` when nothing domain-like is given.

    Raises ``ValueError`` when the input has a host that is not a valid domain name.
    """
    text = (raw or "").strip().lower()
    if not text:
        return ""
    if "@" in text and "/" not in text:
        text = text.rsplit("@", 1)[1]
    if "://" not in text:
        text = f"http://{text}"
    host = (urlsplit(text).hostname or "").rstrip(".")
    if host.startswith("www."):
        host = host[4:]
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError(raw) from None
    if not _DOMAIN_RE.match(host):
        raise ValueError(raw)
    return host
