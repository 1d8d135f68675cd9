"""Choosing the language and time zone: the preference, the switcher, emails in the recipient's language."""

from __future__ import annotations

import zoneinfo

import pytest
from django.conf import settings
from django.core import mail
from django.http import HttpResponse
from django.urls import reverse
from django.utils import timezone, translation

from activities import services as activity_services
from activities.tests.factories import ActivityFactory
from crm.i18n import user_locale
from crm.middleware import UserLocaleMiddleware
from crm.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_simplified_chinese_is_offered():
    assert [code for code, _name in settings.LANGUAGES] == ["en", "ru", "zh-hans"]


def test_without_a_preference_the_browser_language_is_used(owner_client):
    body = owner_client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert '<html lang="ru">' in body
    assert "Сделки" in body


def test_the_users_language_wins_over_the_browser(owner_client, owner):
    owner.language = "zh-hans"
    owner.save(update_fields=["language"])
    response = owner_client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="ru")
    body = response.content.decode()
    assert '<html lang="zh-hans">' in body
    assert "交易" in body
    assert response["Content-Language"] == "zh-hans"


def test_the_switcher_saves_the_preference_and_returns(owner_client, owner):
    response = owner_client.post(reverse("language-set"), {"language": "ru", "next": "/deals/"})
    assert response.status_code == 302
    assert response["Location"] == "/deals/"
    owner.refresh_from_db()
    assert owner.language == "ru"
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "ru"


def test_the_switcher_refuses_an_unknown_language_and_a_foreign_next(owner_client, owner):
    assert owner_client.post(reverse("language-set"), {"language": "xx"}).status_code == 400
    response = owner_client.post(reverse("language-set"), {"language": "ru", "next": "https://evil.example/"})
    assert response["Location"] == reverse("home")


def test_an_empty_choice_follows_the_browser_again(owner_client, owner):
    owner.language = "ru"
    owner.save(update_fields=["language"])
    owner_client.post(reverse("language-set"), {"language": ""})
    owner.refresh_from_db()
    assert owner.language == ""


def test_the_sign_in_page_has_a_switcher_that_works_signed_out(client):
    body = client.get(reverse("login")).content.decode()
    assert 'name="language"' in body and "data-autosubmit" in body and "简体中文" in body
    response = client.post(reverse("language-set"), {"language": "zh-hans", "next": reverse("login")})
    assert response["Location"] == reverse("login")
    assert "登录" in client.get(reverse("login")).content.decode()


def test_the_user_menu_has_the_switcher(owner_client):
    body = owner_client.get(reverse("home")).content.decode()
    assert 'id="language-switcher-menu"' in body
    assert "<script>" not in body  # no inline script: the CSP forbids it; data-autosubmit does the submit


def test_preferences_save_language_and_time_zone(owner_client, owner):
    response = owner_client.post(
        reverse("preferences"),
        {"first_name": "O", "last_name": "O", "email": "o@example.com", "language": "ru", "time_zone": "Asia/Shanghai"},
    )
    assert response.status_code == 302
    owner.refresh_from_db()
    assert (owner.language, owner.time_zone) == ("ru", "Asia/Shanghai")


def test_preferences_refuse_an_unknown_time_zone(owner_client, owner):
    response = owner_client.post(
        reverse("preferences"),
        {"first_name": "O", "last_name": "O", "email": "o@example.com", "time_zone": "Mars/Base"},
    )
    assert response.status_code == 200
    owner.refresh_from_db()
    assert owner.time_zone == ""


def test_the_users_time_zone_and_language_are_active_for_their_requests(owner, rf, settings):
    owner.time_zone, owner.language = "Asia/Shanghai", "ru"
    seen = {}

    def view(request):
        seen["tz"], seen["lang"] = timezone.get_current_timezone_name(), translation.get_language()
        return HttpResponse()

    request = rf.get("/")
    request.user = owner
    UserLocaleMiddleware(view)(request)
    assert seen == {"tz": "Asia/Shanghai", "lang": "ru"}
    assert request.LANGUAGE_CODE == "ru"
    assert timezone.get_current_timezone_name() == settings.TIME_ZONE  # reset after the request
    translation.activate("en")


def test_the_digest_is_written_in_the_recipients_language():
    reader = UserFactory(daily_digest=True, language="ru")
    ActivityFactory(owner=reader, subject="Позвонить", due_at=timezone.now())
    assert activity_services.digest_send_all() == 1
    assert "1 открытое дело" in mail.outbox[0].subject or "открыт" in mail.outbox[0].subject
    assert translation.get_language() == "en"  # the override ends with the email


def test_user_locale_uses_the_users_time_zone():
    user = UserFactory.build(language="zh-hans", time_zone="Asia/Shanghai")
    with user_locale(user):
        assert translation.get_language() == "zh-hans"
        assert timezone.get_current_timezone() == zoneinfo.ZoneInfo("Asia/Shanghai")
    assert translation.get_language() == "en"


def test_a_reminder_is_written_in_the_assignees_language_and_time_zone():
    from activities.services import _reminder_text

    owner = UserFactory(language="ru", time_zone="Asia/Shanghai")
    due = timezone.now().replace(hour=1, minute=30, second=0, microsecond=0)
    activity = ActivityFactory(owner=owner, subject="Позвонить", due_at=due)
    text = _reminder_text(activity)
    local = due.astimezone(zoneinfo.ZoneInfo("Asia/Shanghai"))
    months = ["янв.", "февр.", "мар.", "апр.", "мая", "июн.", "июл.", "авг.", "сент.", "окт.", "нояб.", "дек."]
    day = f"{local.day} {months[local.month - 1]}"
    if local.year != timezone.localdate().year:
        day += f" {local.year}"
    assert text == f"Напоминание: Позвонить {day}, {local:%H:%M}"
