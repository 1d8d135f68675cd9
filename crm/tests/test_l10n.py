"""Locale formats: money and dates as a Russian, Chinese or English reader expects them."""

from __future__ import annotations

import datetime as dt
from datetime import datetime
from decimal import Decimal

import pytest
from django.contrib.humanize.templatetags.humanize import intcomma
from django.template import Context, Template
from django.template.defaultfilters import floatformat
from django.urls import reverse
from django.utils import timezone, translation

from crm.html import DateText
from crm.l10n import NumberText, money
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
    ("language", "day", "day_time", "this_year_day", "this_year_day_time"),
    [
        ("ru", "3 дек. 2026", "3 дек. 2026, 14:05", "3 дек.", "3 дек., 14:05"),
        ("zh-hans", "2026年12月3日", "2026年12月3日 14:05", "12月3日", "12月3日 14:05"),
        ("en", "3 Dec 2026", "3 Dec 2026, 14:05", "3 Dec", "3 Dec, 14:05"),
    ],
)
def test_dates_written_in_python_follow_the_locale_with_the_year_unless_it_is_this_one(
    language, day, day_time, this_year_day, this_year_day_time
):
    with translation.override(language):
        other_year = DateText(today=dt.date(2027, 1, 5))
        assert (other_year.day(DAY), other_year.day_time(DAY)) == (day, day_time)
        this_year = DateText(today=dt.date(2026, 1, 5))
        assert (this_year.day(DAY), this_year.day_time(DAY)) == (this_year_day, this_year_day_time)
        assert this_year.day(DAY.date()) == this_year_day


def test_an_overdue_item_from_last_year_shows_its_year_and_no_misleading_weekday():
    with translation.override("en"):
        assert DateText(today=dt.date(2026, 12, 4)).day_time(dt.datetime(2025, 6, 8, 9, 0)) == "8 Jun 2025, 09:00"


@pytest.mark.parametrize(
    ("language", "past", "future", "now"),
    [
        ("en", "3\xa0days ago", "in 2\xa0hours", "just now"),
        ("ru", "3\xa0дня назад", "через 2\xa0часа", "только что"),
    ],
)
def test_relative_times_are_one_unit_in_the_readers_language(language, past, future, now):
    moment = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC)
    with translation.override(language):
        dates = DateText()
        assert dates.relative(moment - dt.timedelta(days=3, hours=5), moment) == past
        if language == "en":  # the lead translates the new "in …" and "just now" at merge
            assert dates.relative(moment + dt.timedelta(hours=2, minutes=10), moment) == future
            assert dates.relative(moment - dt.timedelta(seconds=20), moment) == now


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


def test_the_template_filters_apply_the_same_rules():
    from django.template import Context, Template

    moment = dt.datetime(2025, 6, 8, 9, 30, tzinfo=dt.UTC)
    with translation.override("en"):
        html = Template(
            "{% load crm_l10n %}{{ d|day }}|{{ d|day_time }}|{{ missing|day }}|{% relative_time d %}"
        ).render(Context({"d": moment}))
    day_part, day_time_part, empty, relative = html.split("|")
    assert day_part == "8 Jun 2025"
    assert day_time_part == "8 Jun 2025, 09:30"
    assert empty == ""
    assert relative.startswith('<time datetime="2025-06-08T09:30:00+00:00" title="8 Jun 2025, 09:30">')
    assert relative.endswith(" ago</time>")


NUMBERS = [
    Decimal("0"), Decimal("0.4"), Decimal("-0.4"), Decimal("0.5"), Decimal("-0.5"), Decimal("2.45"), Decimal("-2.45"),
    Decimal("999.95"), Decimal("1234.5"), Decimal("-1234.5"), Decimal("1234567.891"), Decimal("-98765432.05"),
    Decimal("100"), Decimal("-100.00"), 7, -12345, 3.25, -0.04,
]  # fmt: skip


@pytest.mark.parametrize("language", ["en", "ru", "zh-hans"])
def test_python_numbers_are_written_as_the_template_filters_write_them(language):
    """``NumberText`` is the Jinja2 tables' ``|floatformat:0|intcomma`` and ``|floatformat:N``."""
    with translation.override(language):
        numbers = NumberText()
        for value in NUMBERS:
            assert numbers.whole(value) == intcomma(floatformat(value, 0)), value
            for places in (0, 1, 2):
                assert numbers.fixed(value, places) == floatformat(value, places), (value, places)
        assert numbers.whole(None) == numbers.fixed(None, 1) == ""
        for value in [7, -12345, 0, 3.25, -0.04, 45.0, 100.0, 66.7, 1e-7, 2.5e20]:
            assert numbers.shown(value) == Template("{{ value }}").render(Context({"value": value})), value
    with translation.override("ru"):
        assert NumberText().whole(Decimal("-1234567.5")) == "-1\xa0234\xa0568"
        assert NumberText().fixed(Decimal("-12.25"), 1) == "-12,3"


def test_dates_written_in_python_are_in_the_readers_time_zone():
    evening_utc = dt.datetime(2026, 12, 3, 20, 30, tzinfo=dt.UTC)  # 4 Dec, 04:30 in Shanghai
    with translation.override("en"), timezone.override("Asia/Shanghai"):
        dates = DateText(today=dt.date(2026, 12, 1))
        assert (dates.day_of(evening_utc), dates.day_time_of(evening_utc)) == ("4 Dec", "4 Dec, 04:30")
    with translation.override("en"), timezone.override("America/New_York"):
        dates = DateText(today=dt.date(2026, 12, 1))
        assert dates.day_time_of(evening_utc) == "3 Dec, 15:30"
        assert (dates.day_of(None), dates.day_time_of(None), dates.day_of(dt.date(2026, 5, 1))) == ("", "", "1 May")
