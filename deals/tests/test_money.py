import datetime as dt
from decimal import Decimal

import pytest

from deals.models import ExchangeRate
from deals.money import MissingRate, RateBook, to_base


@pytest.fixture
def eur_rates(db):
    ExchangeRate.objects.create(currency="EUR", date=dt.date(2026, 1, 1), rate=Decimal("1.10"))
    ExchangeRate.objects.create(currency="EUR", date=dt.date(2026, 6, 1), rate=Decimal("1.20"))


def test_the_base_currency_converts_to_itself(db):
    assert to_base(Decimal("10.005"), "USD", dt.date(2026, 1, 1)) == Decimal("10.01")


def test_it_uses_the_latest_rate_on_or_before_the_date(eur_rates):
    assert to_base(Decimal("100"), "EUR", dt.date(2026, 5, 31)) == Decimal("110.00")
    assert to_base(Decimal("100"), "EUR", dt.date(2026, 6, 1)) == Decimal("120.00")
    book = RateBook()
    assert book.to_base(Decimal("100"), "EUR", dt.date(2026, 5, 31)) == Decimal("110.00")
    assert book.to_base(Decimal("100"), "EUR", dt.date(2027, 1, 1)) == Decimal("120.00")


def test_before_the_first_rate_the_earliest_rate_applies(eur_rates):
    assert to_base(Decimal("100"), "EUR", dt.date(2025, 1, 1)) == Decimal("110.00")
    assert RateBook().to_base(Decimal("100"), "EUR", dt.date(2025, 1, 1)) == Decimal("110.00")


def test_an_unknown_currency_is_an_error_not_a_silent_sum(db):
    with pytest.raises(MissingRate, match="RUB"):
        to_base(Decimal("100"), "RUB", dt.date(2026, 1, 1))
    with pytest.raises(MissingRate):
        RateBook().to_base(Decimal("100"), "RUB", dt.date(2026, 1, 1))


def test_the_rates_are_read_once_and_a_saved_rate_is_used_at_once(eur_rates, django_assert_num_queries):
    RateBook().rate("EUR", dt.date(2026, 3, 10))  # reads the table and caches it
    with django_assert_num_queries(0):
        assert RateBook().rate("EUR", dt.date(2026, 3, 10)) == Decimal("1.10")
    # An admin adds a rate: the next page converts with it, not with the cached table.
    ExchangeRate.objects.create(currency="EUR", date=dt.date(2026, 3, 5), rate=Decimal("1.30"))
    assert RateBook().rate("EUR", dt.date(2026, 3, 10)) == Decimal("1.30")
    ExchangeRate.objects.filter(date=dt.date(2026, 3, 5)).get().delete()
    assert RateBook().rate("EUR", dt.date(2026, 3, 10)) == Decimal("1.10")
