"""Locale formats the CRM adds to Django's: money with its symbol where the reader's locale puts
it (``1 234 567,89 ₽``, ``¥1,234,567.89``) and short dates (``3 дек. 2026``, ``2026年12月3日``).

The patterns live in the format modules (``crm/formats/<lang>/formats.py``, FORMAT_MODULE_PATH)
as ``CRM_*`` names; they are read once per language and process, so rows written in Python pay
a dict lookup, not a format-module search, per value. English keeps ``1,234.00 USD``."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Context, Decimal
from functools import cache
from typing import Any

from django.utils import formats, numberformat
from django.utils.translation import get_language

CURRENCY_SYMBOLS = {"RUB": "₽", "CNY": "¥", "USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}

DEFAULTS = {
    # str.format patterns: {amount} the grouped number, {symbol} the currency's sign, {code} its code.
    "CRM_MONEY_FORMAT": "{amount} {code}",
    # {day} {month} (short name) {month_number} {year}; {date} {time} (crm.html.DateText)
    "CRM_DAY_FORMAT": "{day} {month} {year}",
    "CRM_DAY_THIS_YEAR_FORMAT": "{day} {month}",
    "CRM_DAY_TIME_FORMAT": "{date}, {time}",
    "CRM_MONTHS_SHORT": None,  # None: Django's MONTHS_3, title-cased ("Dec")
}


@cache
def _style(language: str) -> dict:
    style = dict(DEFAULTS)
    for module in reversed(list(formats.iter_format_modules(language, ["crm.formats"]))):
        for name in DEFAULTS:
            if hasattr(module, name):
                style[name] = getattr(module, name)
    return style


def style(language: str | None = None) -> dict:
    """The CRM's format patterns of ``language`` (the active one by default)."""
    return _style(language or get_language() or "en")


class MoneyText:
    """Amounts with their currency as the active locale writes them; build one per page."""

    def __init__(self) -> None:
        self.pattern = style()["CRM_MONEY_FORMAT"]
        self.decimal_sep = formats.get_format("DECIMAL_SEPARATOR")
        self.grouping = formats.get_format("NUMBER_GROUPING")
        self.thousand_sep = formats.get_format("THOUSAND_SEPARATOR")

    def number(self, value: Decimal | int | float, places: int) -> str:
        rounded = Decimal(value).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP, Context(prec=60))
        if not rounded:
            rounded = abs(rounded)  # no "-0.00"
        if self.grouping == 3:  # every catalogue of this CRM: Python's own grouping, separators swapped
            return _swap_separators(f"{rounded:,f}", self.decimal_sep, self.thousand_sep)
        return numberformat.format(
            rounded, self.decimal_sep, places, self.grouping, self.thousand_sep, force_grouping=True, use_l10n=True
        )

    def format(self, value: Decimal | int | float, currency: str, places: int = 2) -> str:
        amount = self.number(value, places)
        symbol = CURRENCY_SYMBOLS.get(currency)
        if symbol is None:  # no sign: the code after the amount, in every locale
            return f"{amount} {currency}"
        return self.pattern.format(amount=amount, symbol=symbol, code=currency)


class NumberText:
    """Numbers as the Django templates' ``|floatformat:0|intcomma`` (``whole``) and
    ``|floatformat:N`` (``fixed``) write them in the active locale, with its separators read
    once per page: a report table of 60 rows prints ~400 numbers, and each filter pair costs
    a dozen format lookups (same output, see ``crm/tests/test_l10n.py``)."""

    def __init__(self) -> None:
        self.decimal_sep = formats.get_format("DECIMAL_SEPARATOR")
        self.grouping = formats.get_format("NUMBER_GROUPING")
        self.thousand_sep = formats.get_format("THOUSAND_SEPARATOR")

    def whole(self, value: Decimal | int | float | None) -> str:
        """Rounded half up to a whole number and grouped: ``-1,235`` (``-0.4`` → ``0``)."""
        if value is None:
            return ""
        number = int(_decimal(value).quantize(_ONE, ROUND_HALF_UP, Context(prec=60)))
        if self.grouping == 3:  # every catalogue of this CRM (checked by the tests)
            return f"{number:,}".replace(",", self.thousand_sep)
        return numberformat.format(
            number, self.decimal_sep, 0, self.grouping, self.thousand_sep, force_grouping=True, use_l10n=True
        )

    def shown(self, value: int | float) -> str:
        """An ``int`` or a ``float`` as the Django templates' ``{{ value }}`` shows it (localized,
        not grouped): ``45.5`` (``45,5`` in Russian)."""
        if isinstance(value, float) and "e" not in (text := str(value)):
            return text.replace(".", self.decimal_sep)
        return formats.number_format(value)

    def fixed(self, value: Decimal | int | float | None, places: int) -> str:
        """Rounded half up to ``places`` decimals, not grouped: ``-12.5`` (``12,5`` in Russian)."""
        if value is None:
            return ""
        rounded = _decimal(value).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP, Context(prec=60))
        if not rounded:
            rounded = abs(rounded)  # no "-0.0"
        text = f"{rounded:f}"
        return text.replace(".", self.decimal_sep) if places else text


_ONE = Decimal(1)


def _swap_separators(text: str, decimal_sep: str, thousand_sep: str) -> str:
    """``1,234.5`` (Python's ``,f``) with the locale's separators: ``1 234,5``."""
    if decimal_sep == "." and thousand_sep == ",":
        return text
    whole, point, fraction = text.partition(".")
    return f"{whole.replace(',', thousand_sep)}{decimal_sep if point else ''}{fraction}"


def _decimal(value: Decimal | int | float) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def money(value: Decimal | int | float | None, currency: str, places: int = 2) -> str:
    if value is None:
        return ""
    return MoneyText().format(value, currency, places)


# Han ideographs (incl. extension A and compatibility), kana and Hangul syllables.
CJK_CLASS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_CJK = re.compile(f"[{CJK_CLASS}]")


def choice_labels(choices: Any) -> dict[str, str]:
    """Value → label of a ``TextChoices`` class in the active language, for row templates:
    translated once per language and process (``str()`` of a lazy label walks the catalogues
    each time). A shared dict: read it, do not change it."""
    return _choice_labels(choices, get_language())


@cache
def _choice_labels(choices: Any, language: str | None) -> dict[str, str]:
    return {value: str(label) for value, label in choices.choices}


def is_cjk(text: str) -> bool:
    return bool(text) and _CJK.search(text) is not None


def person_name(first: str, last: str) -> str:
    """A person's name as its own script writes it: ``王 小明`` (last, first) → ``王小明``, family
    name first without a space when the name is Chinese/Japanese/Korean; ``Olga Petrova``
    otherwise, whatever the reader's language."""
    first, last = (first or "").strip(), (last or "").strip()
    if is_cjk(first) or is_cjk(last):
        return f"{last}{first}"
    return f"{first} {last}".strip()


# ICU collations for sorting names (migration contacts ``add_name_collations``): the reader's
# language decides the order of scripts and letters — ё right after е in Russian (Cyrillic
# before Latin), Chinese by pinyin (王 Wang after 李 Li), the Unicode root order in English.
# The byte order of the database's C collation put ё after я and Chinese by code point.
NAME_COLLATIONS = {"en": "crm_name_en", "ru": "crm_name_ru", "zh-hans": "crm_name_zh"}


def name_collation(language: str | None = None) -> str:
    """The collation that sorts names for a reader of ``language`` (the active one by default)."""
    language = (language or get_language() or "en").lower()
    return NAME_COLLATIONS.get(language) or NAME_COLLATIONS.get(language.split("-")[0]) or NAME_COLLATIONS["en"]
