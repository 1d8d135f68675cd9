"""Normalising what people type into phones, emails and domains.

Forms, services, search, demo data and (later) import and duplicate detection all go through
these functions, so a value typed in any format is stored and found the same way.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Any
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


# --- Countries ----------------------------------------------------------------------------

# Names people write that django-countries does not carry (its names in English, Russian and
# Chinese, the ISO official names and its old names are read from the package itself).
_COUNTRY_ALIASES: dict[str, tuple[str, ...]] = {
    "US": ("USA", "U.S.", "U.S.A.", "US of A", "America", "United States", "The United States", "США", "Америка",
           "Соединенные Штаты", "Штаты", "美国", "美利坚合众国"),
    "GB": ("UK", "U.K.", "Great Britain", "Britain", "England", "Scotland", "Wales", "Northern Ireland",
           "Англия", "Британия", "Соединенное Королевство", "Шотландия", "大不列颠", "英格兰"),
    "RU": ("Russia", "Russian Federation", "Россия", "РФ", "Российская Федерация", "Russland", "俄国", "俄罗斯联邦"),
    "CN": ("PRC", "P.R.C.", "People's Republic of China", "Mainland China", "China PRC", "Китай", "КНР",
           "Китайская Народная Республика", "中国", "中华人民共和国", "中国大陆"),
    "KR": ("South Korea", "Korea", "Republic of Korea", "Korea, Republic of", "Korea (South)", "Korea South",
           "Корея", "Южная Корея", "Республика Корея", "韩国", "南韩", "大韩民国", "南朝鲜"),
    "KP": ("North Korea", "DPRK", "Korea (North)", "КНДР", "Северная Корея", "朝鲜", "北韩"),
    "TR": ("Turkey", "Türkiye", "Turkiye", "Republic of Turkey", "Турция", "土耳其"),
    "CZ": ("Czech Republic", "Czechia", "Czech", "Чехия", "Чешская Республика", "捷克", "捷克共和国"),
    "DE": ("Germany", "Deutschland", "FRG", "ФРГ", "Германия", "德国"),
    "NL": ("Holland", "The Netherlands", "Нидерланды", "Голландия", "荷兰"),
    "AE": ("UAE", "U.A.E.", "Emirates", "ОАЭ", "Эмираты", "阿联酋"),
    "BY": ("Belarus", "Byelorussia", "Belorussia", "Беларусь", "Белоруссия", "白俄罗斯"),
    "MD": ("Moldova", "Молдавия", "Молдова"),
    "KG": ("Kyrgyzstan", "Kirghizia", "Киргизия", "Кыргызстан"),
    "HK": ("Hong Kong", "Hong Kong SAR", "Гонконг", "香港"),
    "MO": ("Macau", "Macao", "Макао", "澳门"),
    "TW": ("Taiwan", "Тайвань", "台湾", "中国台湾"),
    "IR": ("Iran", "Persia", "Иран"),
    "CI": ("Ivory Coast", "Cote d'Ivoire", "Кот-д'Ивуар", "Берег Слоновой Кости"),
    "CD": ("DRC", "DR Congo", "Congo-Kinshasa", "ДР Конго"),
    "CG": ("Congo-Brazzaville", "Republic of the Congo"),
    "MM": ("Burma", "Бирма"),
    "SZ": ("Swaziland", "Свазиленд"),
    "MK": ("Macedonia", "Македония"),
    "CV": ("Cape Verde", "Кабо-Верде"),
    "VA": ("Vatican", "Holy See", "Ватикан"),
    "VN": ("Vietnam", "Viet Nam", "Вьетнам", "越南"),
    "LA": ("Laos", "Лаос"),
    "SY": ("Syria", "Сирия"),
    "PS": ("Palestine", "Палестина"),
    "BO": ("Bolivia", "Боливия"),
    "VE": ("Venezuela", "Венесуэла"),
    "TZ": ("Tanzania", "Танзания"),
}  # fmt: skip
_COUNTRY_LANGUAGES = ("en", "ru", "zh-hans")


def country_key(text: str) -> str:
    """``" U.S.A. "`` → ``"usa"``, ``"Türkiye"`` → ``"turkiye"``: case, accents, spaces and
    punctuation do not matter when a country is looked up (Cyrillic "й"/"ё" read as "и"/"е")."""
    text = unicodedata.normalize("NFKD", (text or "").lower())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return re.sub(r"[\W_]+", "", text)


@functools.cache
def _country_lookup() -> dict[str, str]:
    """Every name a country goes by → its ISO alpha-2 code; built once per process.

    In order of trust (a later source never overrides an earlier one): the curated aliases
    above; django-countries' common names in English, Russian and Chinese; its old names
    ("Czech Republic", "Turkey"); the ISO official names ("Russian Federation"); then the
    alpha-2 and alpha-3 codes. The order matters where translations collide: the Chinese
    official name of South Korea is given as 朝鲜, which is North Korea's common name.
    """
    from django.utils import translation
    from django_countries import countries
    from django_countries.data import COUNTRIES

    lookup: dict[str, str] = {}

    def add(name: Any, code: str) -> None:
        key = country_key(str(name))
        if key:
            lookup.setdefault(key, code)
            if key.startswith("the"):  # "The Netherlands", "the Republic of …"
                lookup.setdefault(key[3:], code)

    for code, names in _COUNTRY_ALIASES.items():
        for name in names:
            add(name, code)
    for language in _COUNTRY_LANGUAGES:
        with translation.override(language):
            for country in countries:
                add(country.name, country.code)
            for code, old_names in countries.OLD_NAMES.items():
                for name in old_names:
                    add(name, code)
            for code, name in COUNTRIES.items():
                add(name, code)
    for country in countries:
        lookup.setdefault(country.code.lower(), country.code)
        alpha3 = countries.alpha3(country.code)
        if alpha3:
            lookup.setdefault(alpha3.lower(), country.code)
    return lookup


def country_code(raw: str) -> str | None:
    """The ISO alpha-2 code of a country typed any common way — "United States", "USA",
    "U.S.", "Russian Federation", "Россия", "РФ", "Turkey", "Türkiye", "Czech Republic",
    "中国", "de", "DEU" → "US", "US", "US", "RU", "RU", "RU", "TR", "TR", "CZ", "CN", "DE",
    "DE"; ``""`` for an empty value and ``None`` when not recognised. The import and the
    forms both read countries through this."""
    key = country_key(raw)
    if not key:
        return ""
    return _country_lookup().get(key)


# --- Postcodes and birth dates ------------------------------------------------------------


def normalize_postcode(raw: str) -> str:
    """``" sw1a  1aa "`` → ``"SW1A 1AA"``: trimmed, inner spaces single, letters upper case."""
    return " ".join((raw or "").split()).upper()


BIRTH_DATE_MIN = date(1900, 1, 1)

_ISO_DATE = re.compile(r"^(\d{4})[-./](\d{1,2})[-./](\d{1,2})(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
_DAY_FIRST = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")  # 31.12.1980: always day first
_SLASHED = re.compile(r"^(\d{1,2})[/-](\d{1,2})[/-](\d{4})$")  # 12/31/1980 or 31/12/1980
_CHINESE_DATE = re.compile(r"^(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日?$")


class DateTextError(ValueError):
    """The message says why the text is not a date, as a person reads it next to the value."""


def parse_date_text(raw: str) -> date | None:
    """A date written the common ways: ISO ``1980-12-31`` (also ``1980/12/31`` and with a time,
    as a spreadsheet cell comes out), ``31.12.1980``, ``31/12/1980`` or ``12/31/1980`` when only
    one reading is a date (a day above 12 tells), ``1980年12月31日``. ``None`` for an empty
    value; raises ``DateTextError`` with the reason otherwise."""
    from django.utils.translation import gettext as _

    text = " ".join((raw or "").split())
    if not text:
        return None
    readings: list[tuple[int, int, int]]
    if m := _ISO_DATE.match(text) or _CHINESE_DATE.match(text):
        readings = [(int(m[1]), int(m[2]), int(m[3]))]
    elif m := _DAY_FIRST.match(text):
        readings = [(int(m[3]), int(m[2]), int(m[1]))]
    elif m := _SLASHED.match(text):
        a, b, year = int(m[1]), int(m[2]), int(m[3])
        readings = [(year, b, a)] if a == b else [(year, b, a), (year, a, b)]  # day first, month first
    else:
        raise DateTextError(_("“%(value)s” is not a date; write it as YYYY-MM-DD or DD.MM.YYYY.") % {"value": text})
    dates = []
    for year, month, day in readings:
        try:
            dates.append(date(year, month, day))
        except ValueError:
            continue
    if not dates:
        raise DateTextError(_("“%(value)s” is not a date that exists.") % {"value": text})
    if len(dates) > 1:
        raise DateTextError(
            _("“%(value)s” could be %(first)s or %(second)s; write it as YYYY-MM-DD.")
            % {"value": text, "first": dates[0].isoformat(), "second": dates[1].isoformat()}
        )
    return dates[0]


def birth_date_problem(value: date | None, *, today: date | None = None) -> str | None:
    """Why ``value`` cannot be a living customer's birth date (in the future, before 1900),
    or ``None`` when it can. The form and the import both check through this."""
    from django.utils import timezone
    from django.utils.translation import gettext as _

    if value is None:
        return None
    if value > (today or timezone.localdate()):
        return _("The birth date %(value)s is in the future.") % {"value": value.isoformat()}
    if value < BIRTH_DATE_MIN:
        return _("The birth date %(value)s is before 1900.") % {"value": value.isoformat()}
    return None
