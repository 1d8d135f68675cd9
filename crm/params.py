"""Strict parsing of query-string and form values: one parser per kind of value.

Every value a view, selector or form reads from ``request.GET``/``request.POST`` outside a
Django form field goes through one of these. A malformed value raises ``BadParameter``,
which Django answers with the CRM's own 400 page (``templates/400.html``); ids of records go
on to the model's access helper, which answers 404. Nothing here lets a value reach code
that would fail on it with a 500:

- ids and numbers are ASCII digits only (``"²".isdigit()`` is true but ``int("²")`` fails,
  and ``"٣"`` is a digit to ``int()``) and fit a PostgreSQL bigint or a smaller bound;
- dates and months are within ``MIN_DATE``..``MAX_DATE``, so a view may step a day, a week
  or a month (or a year) either way without leaving the range of ``datetime.date``;
- text has no NUL byte (PostgreSQL refuses it in any string) and is cut to a length;
- enumerations are checked against a fixed set.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Mapping
from typing import TypeVar

from django.core.exceptions import BadRequest
from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

# PostgreSQL bigint: every primary key (BigAutoField) and foreign key fits.
MAX_ID = 2**63 - 1
# A year either side of the supported range stays a valid ``datetime.date``.
MIN_DATE = dt.date(1900, 1, 1)
MAX_DATE = dt.date(2999, 12, 31)

_DIGITS = re.compile(r"[0-9]{1,19}", re.ASCII)
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})", re.ASCII)
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})", re.ASCII)

T = TypeVar("T", bound=str)


class BadParameter(BadRequest):
    """A query or form value that is not what the view accepts; answered with a 400 page."""

    def __init__(self, name: str, message: str) -> None:
        self.name = name
        super().__init__(f"{name}: {message}")


def parse_int(raw: str, *, name: str = "value", minimum: int = 0, maximum: int = MAX_ID) -> int:
    """A whole number of ASCII digits within ``minimum``..``maximum`` (a leading ``-`` only
    when ``minimum`` is negative)."""
    text = raw.strip() if isinstance(raw, str) else ""
    negative = minimum < 0 and text.startswith("-")
    digits = text[1:] if negative else text
    if not _DIGITS.fullmatch(digits):
        raise BadParameter(name, _("not a whole number"))
    value = -int(digits) if negative else int(digits)
    if not minimum <= value <= maximum:
        raise BadParameter(name, _("out of range"))
    return value


def parse_id(raw: str, *, name: str = "id") -> int:
    """A record id: 1..bigint max."""
    return parse_int(raw, name=name, minimum=1)


def int_or_none(value: object, *, minimum: int = 0, maximum: int = MAX_ID) -> int | None:
    """``value`` (a string or int) as a number in range, or None when it is not one. For
    values that only narrow a query (a cursor, a form's raw data), where "no match" is the
    right answer to garbage."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if minimum <= value <= maximum else None
    try:
        return parse_int(value, minimum=minimum, maximum=maximum) if isinstance(value, str) else None
    except BadParameter:
        return None


def id_or_none(value: object) -> int | None:
    """``value`` as a record id (1..bigint max), or None; see ``int_or_none``."""
    return int_or_none(value, minimum=1)


def optional_int(
    data: Mapping[str, str], name: str, *, default: int | None = None, minimum: int = 0, maximum: int = MAX_ID
) -> int | None:
    """``data[name]`` as a number, ``default`` when absent or empty; ``BadParameter`` when malformed."""
    raw = data.get(name) or ""
    if not raw.strip():
        return default
    return parse_int(raw, name=name, minimum=minimum, maximum=maximum)


def optional_id(data: Mapping[str, str], name: str) -> int | None:
    """``data[name]`` as a record id, ``None`` when absent or empty; ``BadParameter`` when malformed."""
    raw = data.get(name) or ""
    return parse_id(raw, name=name) if raw.strip() else None


def parse_date(raw: str, *, name: str = "date", minimum: dt.date = MIN_DATE, maximum: dt.date = MAX_DATE) -> dt.date:
    """An ISO date ``YYYY-MM-DD`` within ``minimum``..``maximum``."""
    match = _DATE.fullmatch(raw.strip()) if isinstance(raw, str) else None
    if not match:
        raise BadParameter(name, _("not a date (YYYY-MM-DD)"))
    try:
        value = dt.date(*(int(part) for part in match.groups()))
    except ValueError:
        raise BadParameter(name, _("not a date (YYYY-MM-DD)")) from None
    if not minimum <= value <= maximum:
        raise BadParameter(name, _("date out of range"))
    return value


def optional_date(data: Mapping[str, str], name: str, *, default: dt.date | None = None) -> dt.date | None:
    raw = data.get(name) or ""
    return parse_date(raw, name=name) if raw.strip() else default


def parse_month(raw: str, *, name: str = "month") -> dt.date:
    """A month ``YYYY-MM`` within the supported years, as the first day of that month."""
    match = _MONTH.fullmatch(raw.strip()) if isinstance(raw, str) else None
    if not match:
        raise BadParameter(name, _("not a month (YYYY-MM)"))
    year, month = (int(part) for part in match.groups())
    if not 1 <= month <= 12:
        raise BadParameter(name, _("not a month (YYYY-MM)"))
    value = dt.date(year, month, 1)
    if not MIN_DATE <= value <= MAX_DATE:
        raise BadParameter(name, _("month out of range"))
    return value


def clean_text(raw: str | None, *, name: str = "text", max_length: int = 200) -> str:
    """Text without NUL bytes (refused: PostgreSQL cannot store or compare them), stripped and
    cut to ``max_length`` characters."""
    text = raw if isinstance(raw, str) else ""
    if "\x00" in text:
        raise BadParameter(name, _("contains a NUL character"))
    return text.strip()[:max_length]


def parse_choice(raw: str | None, choices: Collection[T], *, name: str = "value", default: T) -> T:
    """One of ``choices``; ``default`` when absent or empty; ``BadParameter`` otherwise."""
    if not raw:
        return default
    for choice in choices:
        if raw == choice:
            return choice
    raise BadParameter(name, _("unknown value"))


def safe_next(request: HttpRequest, fallback: str) -> str:
    """The ``next`` URL of the request when it is a path on this site, else ``fallback``.

    ``redirect()`` reads a bare word (``next=x``) as a view name and fails on it, so only a
    value starting with "/" (and not "//") that passes Django's host check is returned.
    """
    target = request.POST.get("next") or request.GET.get("next") or ""
    if (
        target.startswith("/")
        and not target.startswith("//")
        and "\x00" not in target
        and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=False)
    ):
        return target
    return fallback
