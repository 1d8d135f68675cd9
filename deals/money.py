"""Money in one base currency: every sum shown or reported goes through here.

Amounts in different currencies are never added unconverted. A rate is "units of BASE_CURRENCY
per one unit of the currency", taken from the latest ExchangeRate on or before the date.
"""

from __future__ import annotations

import bisect
import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from deals.models import ExchangeRate

CENT = Decimal("0.01")

# Every exchange rate, cached: a few hundred rows that change when an admin edits one. Saving or
# deleting a rate forgets them (``deals.apps``); code that writes rates in bulk calls
# ``forget_rates`` itself (the demo and benchmark seeders).
RATES_CACHE_KEY = "deals:exchange-rates:v1"
RATES_CACHE_SECONDS = 600


def all_rates() -> list[tuple[str, dt.date, Decimal]]:
    rates = cache.get(RATES_CACHE_KEY)
    if rates is None:
        rates = list(ExchangeRate.objects.values_list("currency", "date", "rate"))
        cache.set(RATES_CACHE_KEY, rates, RATES_CACHE_SECONDS)
    return rates


def forget_rates() -> None:
    cache.delete(RATES_CACHE_KEY)


def rates_changed(**_kwargs: object) -> None:
    """A rate was saved or deleted: forget the cached rates now and again at the commit (a
    reader may have cached the old rows meanwhile)."""
    forget_rates()
    transaction.on_commit(forget_rates)


class MissingRate(LookupError):
    """No exchange rate on or before the date for a currency other than the base one."""

    def __init__(self, currency: str, on: dt.date) -> None:
        super().__init__(f"No exchange rate for {currency} on or before {on}; add one in Admin › Exchange rates.")
        self.currency = currency
        self.on = on


class RateBook:
    """All exchange rates loaded once (``all_rates``: from the cache, else one query), for
    converting many amounts quickly.

    They are read on the first conversion of a currency other than the base one, so a page
    whose amounts are all in the base currency reads no rates at all."""

    def __init__(self, rates: list[tuple[str, dt.date, Decimal]] | None = None) -> None:
        self.base = settings.BASE_CURRENCY
        self._dates: dict[str, list[dt.date]] = {}
        self._rates: dict[str, list[Decimal]] = {}
        self._loaded = False
        if rates is not None:
            self._load(rates)

    def _load(self, rates: list[tuple[str, dt.date, Decimal]]) -> None:
        for currency, date, rate in sorted(rates):
            self._dates.setdefault(currency, []).append(date)
            self._rates.setdefault(currency, []).append(rate)
        self._loaded = True

    def rate(self, currency: str, on: dt.date) -> Decimal:
        if currency == self.base:
            return Decimal("1")
        if not self._loaded:
            self._load(all_rates())
        dates = self._dates.get(currency)
        if not dates:
            raise MissingRate(currency, on)
        index = bisect.bisect_right(dates, on) - 1
        if index < 0:
            # Before the first known rate: the earliest rate is the best estimate there is.
            index = 0
        return self._rates[currency][index]

    def to_base(self, amount: Decimal, currency: str, on: dt.date) -> Decimal:
        return (amount * self.rate(currency, on)).quantize(CENT, rounding=ROUND_HALF_UP)


def to_base(amount: Decimal, currency: str, on: dt.date) -> Decimal:
    """Convert one amount; for many amounts build one ``RateBook`` and reuse it."""
    if currency == settings.BASE_CURRENCY:
        return amount.quantize(CENT, rounding=ROUND_HALF_UP)
    rate = ExchangeRate.objects.filter(currency=currency, date__lte=on).order_by("-date").values_list("rate", flat=True)
    value = rate.first()
    if value is None:
        value = ExchangeRate.objects.filter(currency=currency).order_by("date").values_list("rate", flat=True).first()
    if value is None:
        raise MissingRate(currency, on)
    return (amount * value).quantize(CENT, rounding=ROUND_HALF_UP)
