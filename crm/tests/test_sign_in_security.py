"""Sign-in throttling (django-axes, real database), password reset limits and enumeration,
idle sessions, sessions ended by a password change and by "sign out everywhere"."""

import re
import time

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.urls import reverse

from crm.middleware import LAST_SEEN_KEY
from crm.models import SecurityEvent, SecurityEventKind
from crm.tests.factories import UserFactory

PASSWORD = "pass-for-tests"


@pytest.fixture(autouse=True)
def small_limits(settings):
    settings.AXES_FAILURE_LIMIT = 3
    settings.PASSWORD_RESET_LIMIT = 2


def _sign_in(client: Client, username: str, password: str, **extra):
    return client.post(reverse("login"), {"username": username, "password": password}, **extra)


def _signed_in(client: Client) -> bool:
    return client.get(reverse("home")).status_code == 200


# --- Lockout ------------------------------------------------------------------------------


def test_a_user_is_locked_out_after_too_many_wrong_passwords_even_with_the_right_one(client, owner):
    for _ in range(2):
        assert _sign_in(client, "owner", "wrong").status_code == 200
    response = _sign_in(client, "owner", "wrong")
    assert response.status_code == 429
    body = response.content.decode()
    assert "Too many failed sign-in attempts" in body
    assert "blocked for 15 minutes" in body

    response = _sign_in(client, "owner", PASSWORD)
    assert response.status_code == 429
    assert not _signed_in(client)
    assert SecurityEvent.objects.filter(kind=SecurityEventKind.LOCKED_OUT, user=owner).exists()
    assert SecurityEvent.objects.filter(kind=SecurityEventKind.LOGIN_FAILED, user=owner).count() >= 3


def test_the_lockout_is_per_user_across_addresses(client, owner, teammate):
    for i in range(3):
        _sign_in(client, "owner", "wrong", REMOTE_ADDR=f"10.0.0.{i + 1}")
    # A fresh address still cannot sign in as owner...
    assert _sign_in(Client(), "owner", PASSWORD, REMOTE_ADDR="10.0.0.99").status_code == 429
    # ...but the teammate, from another address, can.
    other = Client()
    assert _sign_in(other, "teammate", PASSWORD, REMOTE_ADDR="10.0.0.98").status_code == 302
    assert _signed_in(other)


def test_the_lockout_is_per_address_across_users(client, owner, teammate, outsider):
    for name in ("nobody-1", "nobody-2", "nobody-3"):
        _sign_in(client, name, "wrong", REMOTE_ADDR="10.9.9.9")
    # Even a right password for another user is refused from that address...
    assert _sign_in(Client(), "teammate", PASSWORD, REMOTE_ADDR="10.9.9.9").status_code == 429
    # ...while the same user signs in from elsewhere.
    assert _sign_in(Client(), "teammate", PASSWORD, REMOTE_ADDR="10.1.1.1").status_code == 302


def test_the_lockout_ends_after_the_cool_off(client, owner, settings):
    for _ in range(3):
        _sign_in(client, "owner", "wrong")
    assert _sign_in(client, "owner", PASSWORD).status_code == 429
    # Cool-off passed: the attempts are older than AXES_COOLOFF_TIME.
    from datetime import timedelta

    from django.utils import timezone

    AccessAttempt.objects.update(attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1))
    assert _sign_in(client, "owner", PASSWORD).status_code == 302
    assert _signed_in(client)


def test_a_successful_sign_in_resets_the_count(client, owner):
    _sign_in(client, "owner", "wrong")
    _sign_in(client, "owner", "wrong")
    assert _sign_in(client, "owner", PASSWORD).status_code == 302
    client.post(reverse("logout"))
    _sign_in(client, "owner", "wrong")
    _sign_in(client, "owner", "wrong")
    assert _sign_in(client, "owner", PASSWORD).status_code == 302


def test_sign_ins_are_logged_with_address_and_browser(client, owner):
    _sign_in(client, "owner", "wrong", REMOTE_ADDR="10.2.3.4", HTTP_USER_AGENT="Firefox/150")
    _sign_in(client, "owner", PASSWORD, REMOTE_ADDR="10.2.3.4", HTTP_USER_AGENT="Firefox/150")
    failed = SecurityEvent.objects.get(kind=SecurityEventKind.LOGIN_FAILED)
    assert (failed.user, failed.username, failed.ip_address, failed.user_agent) == (
        owner,
        "owner",
        "10.2.3.4",
        "Firefox/150",
    )
    ok = SecurityEvent.objects.get(kind=SecurityEventKind.LOGIN_SUCCEEDED)
    assert (ok.user, ok.ip_address) == (owner, "10.2.3.4")


def test_a_failed_sign_in_for_an_unknown_name_is_logged_with_the_name_typed(client, db):
    _sign_in(client, "ghost", "wrong")
    event = SecurityEvent.objects.get(kind=SecurityEventKind.LOGIN_FAILED)
    assert (event.user, event.username) == (None, "ghost")


def test_a_forwarded_address_is_ignored_unless_proxies_are_trusted(client, owner, settings):
    _sign_in(client, "owner", "wrong", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="1.2.3.4")
    failures = SecurityEvent.objects.filter(kind=SecurityEventKind.LOGIN_FAILED).order_by("id")
    assert failures.get().ip_address == "10.0.0.1"
    settings.TRUSTED_PROXY_COUNT = 1
    _sign_in(client, "owner", "wrong", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 1.2.3.4")
    assert failures.last().ip_address == "1.2.3.4"


# --- Password reset -----------------------------------------------------------------------


def test_the_reset_form_answers_the_same_for_an_unknown_address(client, owner, mailoutbox, tasks_run_in_process):
    known = client.post(reverse("password_reset"), {"email": owner.email})
    unknown = Client().post(reverse("password_reset"), {"email": "nobody@example.com"}, REMOTE_ADDR="10.0.0.7")
    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])

    def page(c: Client, url: str) -> str:  # without the per-client CSRF token
        return re.sub(r'"X-CSRFToken": "[^"]*"', "", c.get(url).content.decode())

    assert page(client, known["Location"]) == page(Client(), unknown["Location"])
    assert len(mailoutbox) == 1
    events = SecurityEvent.objects.filter(kind=SecurityEventKind.PASSWORD_RESET_REQUESTED)
    assert {(e.user_id, e.detail["known"]) for e in events} == {(owner.pk, True), (None, False)}


def test_reset_requests_are_limited_per_address(client, owner, mailoutbox, tasks_run_in_process):
    for email in ("a@example.com", "b@example.com"):
        assert client.post(reverse("password_reset"), {"email": email}).status_code == 302
    response = client.post(reverse("password_reset"), {"email": owner.email})
    assert response.status_code == 429
    assert "Too many password reset requests" in response.content.decode()
    assert mailoutbox == []


def test_reset_requests_are_limited_per_email_the_same_for_known_and_unknown(owner, mailoutbox, tasks_run_in_process):
    for email in (owner.email, "nobody@example.com"):
        statuses = [
            Client().post(reverse("password_reset"), {"email": email}, REMOTE_ADDR=f"10.0.{n}.1").status_code
            for n in range(3)
        ]
        assert statuses == [302, 302, 429]
    assert len(mailoutbox) == 2


def test_a_completed_reset_is_logged_ends_other_sessions_and_lifts_the_lockout(
    client, owner, mailoutbox, tasks_run_in_process
):
    other = Client()
    other.force_login(owner)
    for i in range(3):
        _sign_in(Client(), "owner", "wrong", REMOTE_ADDR=f"10.3.0.{i}")
    assert _sign_in(Client(), "owner", PASSWORD, REMOTE_ADDR="10.3.1.1").status_code == 429
    client.post(reverse("password_reset"), {"email": owner.email})
    link = next(line for line in mailoutbox[0].body.splitlines() if "/accounts/reset/" in line).strip()
    response = client.get(link)
    response = client.post(
        response["Location"], {"new_password1": "N3w-pass-4-tests", "new_password2": "N3w-pass-4-tests"}
    )
    assert response.status_code == 302
    assert SecurityEvent.objects.filter(kind=SecurityEventKind.PASSWORD_RESET, user=owner).exists()
    assert not _signed_in(other)
    assert _sign_in(Client(), "owner", "N3w-pass-4-tests", REMOTE_ADDR="10.3.1.1").status_code == 302


def test_the_reset_email_is_sent_by_a_task_not_during_the_request(client, owner, mailoutbox):
    assert client.post(reverse("password_reset"), {"email": owner.email}).status_code == 302
    assert mailoutbox == []  # queued for the worker


# --- Sessions -----------------------------------------------------------------------------


def test_a_session_idle_too_long_ends_with_a_message(owner_client, owner, settings):
    session = owner_client.session
    session[LAST_SEEN_KEY] = int(time.time()) - settings.SESSION_IDLE_MINUTES * 60 - 5
    session.save()
    response = owner_client.get(reverse("contacts:company-list"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    page = owner_client.get(response["Location"])
    assert "signed out after a while without activity" in page.content.decode()
    assert not _signed_in(owner_client)
    assert SecurityEvent.objects.filter(kind=SecurityEventKind.SESSION_EXPIRED, user=owner).exists()


def test_a_session_in_use_stays_and_its_last_use_moves(owner_client, settings):
    session = owner_client.session
    session[LAST_SEEN_KEY] = int(time.time()) - settings.SESSION_IDLE_MINUTES * 60 + 120
    session.save()
    assert _signed_in(owner_client)
    assert owner_client.session[LAST_SEEN_KEY] >= int(time.time()) - 5


def test_the_stored_session_outlives_the_idle_limit_so_the_reason_can_be_shown():
    from crm import settings as crm_settings

    assert crm_settings.SESSION_COOKIE_AGE > crm_settings.SESSION_IDLE_MINUTES * 60


@pytest.fixture(params=["django.contrib.sessions.backends.cached_db", "django.contrib.sessions.backends.db"])
def session_engine(request, settings):
    settings.SESSION_ENGINE = request.param
    return request.param


def _client_signed_in_as(user) -> Client:
    client = Client()
    assert _sign_in(client, user.username, PASSWORD).status_code == 302
    return client


def test_changing_the_password_ends_the_other_sessions_and_keeps_this_one(session_engine, owner, teammate):
    here, elsewhere, someone_else = (
        _client_signed_in_as(owner),
        _client_signed_in_as(owner),
        _client_signed_in_as(teammate),
    )
    response = here.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": "N3w-pass-4-tests", "new_password2": "N3w-pass-4-tests"},
    )
    assert response.status_code == 302
    assert _signed_in(here)
    assert not _signed_in(elsewhere)
    assert _signed_in(someone_else)
    assert SecurityEvent.objects.filter(kind=SecurityEventKind.PASSWORD_CHANGED, user=owner).count() == 1


def test_sign_out_everywhere_ends_every_session_of_the_user_only(session_engine, owner, teammate):
    here, elsewhere, someone_else = (
        _client_signed_in_as(owner),
        _client_signed_in_as(owner),
        _client_signed_in_as(teammate),
    )
    response = here.post(reverse("sign-out-everywhere"))
    assert response.status_code == 302
    assert response["Location"] == reverse("login")
    assert "You are signed out everywhere (1 other session ended)" in here.get(reverse("login")).content.decode()
    assert not _signed_in(here)
    assert not _signed_in(elsewhere)
    assert _signed_in(someone_else)
    event = SecurityEvent.objects.get(kind=SecurityEventKind.SESSIONS_ENDED)
    assert (event.user, event.detail) == (owner, {"other_sessions": 1})


def test_sign_out_everywhere_drops_the_cached_copy_too(owner):
    """cached_db reads the cache first: a session deleted only from the table would live on."""
    from importlib import import_module

    from django.conf import settings

    elsewhere = _client_signed_in_as(owner)
    key = elsewhere.session.session_key
    store = import_module(settings.SESSION_ENGINE).SessionStore
    assert store(session_key=key).get("_auth_user_id") == str(owner.pk)
    _client_signed_in_as(owner).post(reverse("sign-out-everywhere"))
    assert store(session_key=key).get("_auth_user_id") is None


def test_sign_out_everywhere_is_a_post_in_the_user_menu(owner_client):
    body = owner_client.get(reverse("home")).content.decode()
    assert f'action="{reverse("sign-out-everywhere")}"' in body
    assert owner_client.get(reverse("sign-out-everywhere")).status_code == 405


def test_a_deactivated_users_sign_in_is_refused(client, db):
    UserFactory(username="gone", is_active=False)
    assert _sign_in(client, "gone", PASSWORD).status_code == 200
    assert not _signed_in(client)


@pytest.mark.parametrize(
    ("next_url", "lands_on"),
    [("/contacts/", "/contacts/"), ("x", "/"), ("//evil.example/", "/"), ("https://evil.example/", "/")],
)
def test_sign_in_follows_only_a_local_next(client, owner, next_url, lands_on):
    response = client.post(reverse("login"), {"username": "owner", "password": PASSWORD, "next": next_url})
    assert response.status_code == 302
    assert response["Location"] == lands_on


def test_hostile_values_get_a_form_error_not_a_server_error(client, owner, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    hostile = {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "not-an-ip\x00", "HTTP_USER_AGENT": "x\x00y"}
    assert client.post(reverse("login"), {"username": "own\x00er", "password": "p\x00"}, **hostile).status_code == 200
    assert client.post(reverse("login"), {"username": "o" * 5000, "password": "p"}, **hostile).status_code == 200
    assert client.post(reverse("password_reset"), {"email": "a\x00@example.com"}, **hostile).status_code == 200
    _sign_in(client, "owner", "wrong", **hostile)
    assert SecurityEvent.objects.filter(kind=SecurityEventKind.LOGIN_FAILED).last().ip_address == "10.0.0.1"


def test_the_bells_polling_does_not_keep_an_idle_session_alive(owner_client, settings):
    session = owner_client.session
    stale = int(time.time()) - 600
    session[LAST_SEEN_KEY] = stale
    session.save()
    assert owner_client.get(reverse("notification-bell"), HTTP_HX_REQUEST="true").status_code == 200
    assert owner_client.session[LAST_SEEN_KEY] == stale
    session[LAST_SEEN_KEY] = int(time.time()) - settings.SESSION_IDLE_MINUTES * 60 - 5
    session.save()
    response = owner_client.get(reverse("notification-bell"), HTTP_HX_REQUEST="true")
    assert response["HX-Redirect"] == reverse("login")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"REQUIRE_2FA_FOR": "admin,boss"}, "REQUIRE_2FA_FOR has unknown roles: boss"),
        ({"LOGIN_FAILURE_LIMIT": "0"}, "LOGIN_FAILURE_LIMIT must be at least 1"),
        ({"SESSION_IDLE_MINUTES": "an hour"}, "SESSION_IDLE_MINUTES must be a whole number"),
        ({"SECURITY_LOG_RETENTION_DAYS": "-1"}, "SECURITY_LOG_RETENTION_DAYS must be at least 1"),
    ],
)
def test_a_bad_security_setting_stops_start_up_naming_it(env, message):
    import os
    import subprocess
    import sys
    from pathlib import Path

    result = subprocess.run(
        [sys.executable, "-c", "import crm.settings"],
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert message in result.stderr
