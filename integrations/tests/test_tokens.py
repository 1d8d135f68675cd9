"""API tokens: created in Preferences, shown once, hashed, expiring, revocable, throttled."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from crm.models import SecurityEvent, SecurityEventKind
from integrations.models import ApiToken, TokenScope
from integrations.services import api_token_revoke, token_hash
from integrations.tests.conftest import token_client

pytestmark = pytest.mark.django_db


def test_a_user_creates_a_token_shown_once_and_stored_hashed(owner, owner_client):
    response = owner_client.post(reverse("integrations:token-create"), {"name": "Billing sync", "scope": "read_write"})
    assert response.status_code == 201
    secret = response.context["secret"]
    assert secret.startswith("crm_") and secret in response.content.decode()
    token = ApiToken.objects.get(user=owner)
    assert token.scope == TokenScope.READ_WRITE
    assert token.secret_hash == token_hash(secret) and secret not in token.secret_hash
    assert SecurityEvent.objects.filter(kind=SecurityEventKind.API_TOKEN_CREATED, user=owner).exists()
    listing = owner_client.get(reverse("integrations:token-list")).content.decode()
    assert token.prefix in listing and secret not in listing


def test_the_preferences_page_links_to_tokens(owner_client):
    assert reverse("integrations:token-list") in owner_client.get(reverse("preferences")).content.decode()


def test_a_past_expiry_is_refused(owner, owner_client):
    response = owner_client.post(
        reverse("integrations:token-create"), {"name": "Old", "scope": "read", "expires_on": "2000-01-01"}
    )
    assert response.status_code == 400
    assert not ApiToken.objects.exists()


def test_a_user_revokes_their_token_and_it_stops_working(owner, owner_client):
    client = token_client(owner)
    assert client.get(reverse("api:companies")).status_code == 200
    response = owner_client.post(reverse("integrations:token-revoke", args=[client.token.pk]))
    assert response.status_code == 302
    client.token.refresh_from_db()
    assert client.token.revoked_at is not None
    assert SecurityEvent.objects.filter(kind=SecurityEventKind.API_TOKEN_REVOKED, user=owner).exists()
    denied = client.get(reverse("api:companies"))
    assert denied.status_code == 401
    assert denied.json()["error"] == "token_revoked"
    assert denied["WWW-Authenticate"].startswith("Bearer")


def test_nobody_else_can_revoke_a_token_but_an_admin(owner, teammate_client, admin_client):
    client = token_client(owner)
    assert teammate_client.post(reverse("integrations:token-revoke", args=[client.token.pk])).status_code == 404
    client.token.refresh_from_db()
    assert client.token.revoked_at is None
    assert admin_client.post(reverse("integrations:token-revoke", args=[client.token.pk])).status_code == 302
    client.token.refresh_from_db()
    assert client.token.revoked_at is not None


def test_admins_see_every_token_in_django_admin(owner, admin_client):
    client = token_client(owner)
    page = admin_client.get(reverse("admin:integrations_apitoken_changelist"))
    assert page.status_code == 200
    assert client.token.prefix in page.content.decode()
    admin_client.post(
        reverse("admin:integrations_apitoken_changelist"),
        {"action": "revoke", "_selected_action": [client.token.pk]},
    )
    client.token.refresh_from_db()
    assert client.token.revoked_at is not None


def test_an_expired_token_is_401(owner):
    client = token_client(owner, expires_at=timezone.now() + dt.timedelta(days=1))
    ApiToken.objects.filter(pk=client.token.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    response = client.get(reverse("api:companies"))
    assert response.status_code == 401
    assert response.json()["error"] == "token_expired"


@pytest.mark.parametrize("header", ["Bearer nope", "Bearer", "Bearer a b", "Bearer \u00e9t\u00e9"])
def test_a_bad_token_is_401(db, header):
    client = APIClient()
    response = client.get(reverse("api:companies"), HTTP_AUTHORIZATION=header.encode().decode("latin-1"))
    assert response.status_code == 401
    assert response.json()["error"] == "token_invalid"


def test_no_token_is_401(db):
    response = APIClient().get(reverse("api:companies"))
    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"


def test_last_used_is_written_at_most_once_a_minute(owner, django_assert_max_num_queries):
    client = token_client(owner)
    client.get(reverse("api:companies"))
    client.token.refresh_from_db()
    first = client.token.last_used_at
    assert first is not None
    client.get(reverse("api:companies"))
    client.token.refresh_from_db()
    assert client.token.last_used_at == first


def test_too_many_requests_per_token_is_429_with_retry_after(owner, settings):
    settings.API_THROTTLE_RATE = "3/minute"
    client = token_client(owner)
    other = token_client(owner)
    codes = [client.get(reverse("api:companies")).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    response = client.get(reverse("api:companies"))
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert response.json()["error"] == "throttled"
    assert other.get(reverse("api:companies")).status_code == 200  # counted per token


def test_failed_authentications_are_throttled_per_ip(owner, settings):
    settings.API_AUTH_FAILURES_PER_MINUTE = 3
    anonymous = APIClient()
    codes = [anonymous.get(reverse("api:companies"), HTTP_AUTHORIZATION="Bearer wrong").status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]
    good = token_client(owner)
    response = good.get(reverse("api:companies"))  # same address: refused before the lookup
    assert response.status_code == 429
    assert response["Retry-After"]


def test_revoking_twice_logs_once(owner):
    client = token_client(owner)
    api_token_revoke(token=client.token, actor=owner)
    api_token_revoke(token=client.token, actor=owner)
    assert SecurityEvent.objects.filter(kind=SecurityEventKind.API_TOKEN_REVOKED).count() == 1
