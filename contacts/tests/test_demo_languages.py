"""The demo's Russian and Chinese customers are written in Russian and Chinese."""

import re

from django.core.management import call_command

from activities.models import Activity
from contacts.models import Company, Contact
from crm.l10n import is_cjk
from deals.models import Deal


def _cyrillic(text: str) -> bool:
    return any("а" <= ch.lower() <= "я" or ch in "ёЁ" for ch in text)


def test_russian_and_chinese_customers_come_with_text_in_their_language(db, settings):
    settings.DEBUG = True
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert any(is_cjk(c.name) for c in Company.objects.filter(country="CN"))
    assert Contact.objects.filter(country="CN", last_name="王").exists()
    assert all(
        not title or _cyrillic(title) for title in Contact.objects.filter(country="RU").values_list("title", flat=True)
    )
    # A Russian surname agrees with the person: Анна Волкова, Игорь Волков (not Игорь Волкова).
    women, men = {"Анна", "Елена", "Мария", "Ольга", "Natalia"}, {"Дмитрий", "Игорь", "Сергей", "Alexei", "Pavel"}
    stems = ("Петров", "Иванов", "Смирнов", "Кузнецов", "Соколов", "Попов", "Волков", "Orlov", "Fedorov", "Morozov")
    people = [
        (first, last)
        for first, last in Contact.objects.filter(country="RU").values_list("first_name", "last_name")
        if last in stems or (last[-1:] in ("а", "a") and last[:-1] in stems)
    ]
    assert {first for first, _last in people} & women and {first for first, _last in people} & men
    assert [(f, last) for f, last in people if f in women and last in stems] == []
    assert [(f, last) for f, last in people if f in men and last not in stems] == []
    assert all(
        not title or is_cjk(title) for title in Contact.objects.filter(country="CN").values_list("title", flat=True)
    )
    assert all(
        _cyrillic(t.split(":")[-1]) for t in Deal.objects.filter(company__country="RU").values_list("title", flat=True)
    )
    assert all(
        is_cjk(t.split()[-1]) for t in Deal.objects.filter(company__country="CN").values_list("title", flat=True)
    )
    # (Follow-up tasks of dormant customers are written in their owner's language.)
    ru = list(
        Activity.objects.filter(company__country="RU")
        .exclude(subject__startswith="Follow up")
        .values_list("subject", flat=True)
    )
    cn = list(
        Activity.objects.filter(company__country="CN")
        .exclude(subject__startswith="Follow up")
        .values_list("subject", flat=True)
    )
    assert ru and all(_cyrillic(subject) for subject in ru)
    assert cn and all(is_cjk(subject) for subject in cn)
    assert Activity.objects.filter(company__country="US", subject="Intro call").exists()
    # A Chinese company's domain is its pinyin, not a placeholder shared by all of them.
    domains = [d for d in Company.objects.filter(country="CN").values_list("domain", flat=True) if d]
    assert not any("firma" in d for d in domains)


def test_the_russian_speaking_rep_has_customers_and_work_of_his_own(db, settings, client):
    from crm.models import User

    settings.DEBUG = True
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    dmitry = User.objects.get(username="dmitry")
    deals = Deal.objects.filter(owner=dmitry)
    assert deals.count() == 4 and set(deals.values_list("currency", flat=True)) == {"RUB"}
    assert all(deal.stage_changes.exists() for deal in deals)
    assert Activity.objects.filter(owner=dmitry, done_at__isnull=True).count() >= 3
    client.force_login(dmitry)
    body = client.get("/").content.decode()
    assert "Мой день" in body and "Перезвонить по договору" in body
    deal_page = client.get(deals.get(company__name="ООО «Ромашка»").get_absolute_url()).content.decode()
    assert re.search(r"1\s250\s000,00\s₽", deal_page)  # roubles as a Russian reader writes them
