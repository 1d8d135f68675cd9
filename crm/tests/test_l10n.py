"""Locale formats: money and dates as a Russian, Chinese or English reader expects them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from django.template.defaultfilters import floatformat
from django.urls import reverse
from django.utils import translation

from crm.html import DateText
from crm.l10n import money
from deals.tests.factories import DealFactory

AMOUNT = Decimal("1234567.89")
DAY = datetime(2026, 12, 3, 14, 5)


@pytest.mark.parametrize(
    ("language", "currency", "expected"),
    [
        ("ru", "RUB", "1\xa0234\xa0567,89\xa0₽"),
        ("zh-hans", "CNY", "¥1,234,567.89"),
        ("en", "USD", "1,234,567.89 USD"),
        ("ru", "XAF", "1\xa0234\xa0567,89 XAF"),  # no sign known: the code after the amount
    ],
)
def test_money_as_the_locale_writes_it(language, currency, expected):
    with translation.override(language):
        assert money(AMOUNT, currency) == expected


@pytest.mark.parametrize(
    ("language", "day", "day_time", "weekday_time"),
    [
        ("ru", "3 дек. 2026", "3 дек. 2026, 14:05", "чт, 3 дек., 14:05"),
        ("zh-hans", "2026年12月3日", "2026年12月3日 14:05", "12月3日 周四 14:05"),
        ("en", "3 Dec 2026", "3 Dec 2026, 14:05", "Thu 3 Dec, 14:05"),
    ],
)
def test_dates_written_in_python_follow_the_locale(language, day, day_time, weekday_time):
    with translation.override(language):
        dates = DateText()
        assert (dates.day(DAY), dates.day_time(DAY), dates.weekday_time(DAY)) == (day, day_time, weekday_time)


@pytest.mark.parametrize(("language", "expected"), [("ru", "1\xa0234\xa0568"), ("zh-hans", "1,234,568")])
def test_template_numbers_use_the_locale_separators(language, expected):
    with translation.override(language):
        assert floatformat(AMOUNT, "0g") == expected


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "currency", "expected"), [("ru", "RUB", "12\xa0345,50\xa0₽"), ("zh-hans", "CNY", "¥12,345.50")]
)
def test_the_deal_page_shows_the_amount_in_the_readers_format(owner_client, owner, language, currency, expected):
    deal = DealFactory(owner=owner, amount=Decimal("12345.50"), currency=currency)
    owner.language = language
    owner.save(update_fields=["language"])
    body = owner_client.get(reverse("deals:detail", args=[deal.pk])).content.decode()
    assert expected in body


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        ("小明", "王", "王小明"),
        ("Olga", "Petrova", "Olga Petrova"),
        ("Ольга", "Петрова", "Ольга Петрова"),
        ("", "李", "李"),
    ],
)
def test_a_cjk_name_is_family_name_first_without_a_space(first, last, expected):
    from crm.l10n import person_name

    assert person_name(first, last) == expected


@pytest.mark.django_db
def test_the_sql_name_matches_the_python_one(owner):
    from activities.selectors import full_name
    from contacts.models import Contact
    from contacts.tests.factories import ContactFactory

    for first, last in (("小明", "王"), ("Olga", "Petrova")):
        contact = ContactFactory(owner=owner, first_name=first, last_name=last)
        sql = Contact.objects.filter(pk=contact.pk).annotate(n=full_name()).values_list("n", flat=True).get()
        assert sql == contact.full_name
