"""The sign-in page: the product's name, "remember me" (how long the session lasts) and
/favicon.ico for pages without an icon link (Django admin)."""

import time

from django.test import Client
from django.urls import reverse

from crm.middleware import LAST_SEEN_KEY, REMEMBER_KEY

PASSWORD = "pass-for-tests"


def _sign_in(client: Client, **extra):
    return client.post(reverse("login"), {"username": "owner", "password": PASSWORD, **extra})


def test_the_sign_in_page_names_the_product_and_offers_remember_me(client, settings):
    settings.PRODUCT_NAME = "Acme Sales"
    html = client.get(reverse("login")).content.decode()
    assert "Acme Sales" in html
    assert 'name="remember"' in html
    assert "Remember me" in html


def test_without_remember_me_the_session_ends_with_the_browser(client, owner):
    assert _sign_in(client).status_code == 302
    assert client.session.get_expire_at_browser_close() is True
    assert REMEMBER_KEY not in client.session


def test_remember_me_keeps_the_session_for_days(client, owner, settings):
    settings.REMEMBER_ME_DAYS = 14
    assert _sign_in(client, remember="on").status_code == 302
    assert client.session.get_expire_at_browser_close() is False
    assert client.session.get_expiry_age() == 14 * 24 * 3600
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["max-age"] == 14 * 24 * 3600


def test_a_remembered_session_survives_a_night_idle_but_not_the_remember_period(client, owner, settings):
    _sign_in(client, remember="on")
    session = client.session
    session[LAST_SEEN_KEY] = int(time.time()) - settings.SESSION_IDLE_MINUTES * 60 - 3600
    session.save()
    assert client.get(reverse("home")).status_code == 200
    session = client.session
    session[LAST_SEEN_KEY] = int(time.time()) - settings.REMEMBER_ME_DAYS * 24 * 3600 - 5
    session.save()
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_an_unremembered_session_still_ends_after_the_idle_limit(client, owner, settings):
    _sign_in(client)
    session = client.session
    session[LAST_SEEN_KEY] = int(time.time()) - settings.SESSION_IDLE_MINUTES * 60 - 5
    session.save()
    assert client.get(reverse("home")).status_code == 302


def test_favicon_ico_is_served_without_signing_in(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/vnd.microsoft.icon"
    assert bytes(response.content[:4]) == b"\x00\x00\x01\x00"  # the ICO header


def test_user_and_team_admin_pages_name_every_date_and_time_box(admin_client, owner):
    html = admin_client.get(reverse("admin:crm_user_change", args=[owner.pk])).content.decode()
    assert 'aria-label="Date joined: date"' in html
    assert 'aria-label="Date joined: time"' in html
