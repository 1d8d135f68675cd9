"""Every page needs a signed-in user, except an explicit allowlist."""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

# Route name (or admin/static prefix) → why it is open.
PUBLIC = {
    "login",
    "password_reset",
    "password_reset_done",
    "password_reset_confirm",
    "password_reset_complete",
    "healthz",
    "language-set",  # the sign-in page's language switcher (POST only)
    "favicon",  # the browser asks for it on the sign-in page too
}
# Token-protected or third-party flows that answer 404 (not a redirect) to strangers.
TOKEN_ROUTES: set[str] = {
    "ics",  # activities:ics, the secret-token calendar feed
    "survey",  # service:survey, the customer's one-time satisfaction link
    "web-form",  # service:web-form, a queue's public case form (its key in the URL)
    "lead-form",  # campaigns:lead-form, a campaign's public lead form (its key in the URL)
}


@pytest.mark.parametrize("path", ["/cases/survey/x/", "/cases/web/x/", "/campaigns/lead/x/"])
def test_token_routes_answer_404_to_a_wrong_token(client, db, path):
    assert client.get(path).status_code == 404


def _walk(resolvers, prefix=""):
    for entry in resolvers:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry


def _concrete(route: str) -> str:
    route = re.sub(r"<int:[^>]+>", "1", route)
    route = re.sub(r"<(?:slug|str|uuid|path):[^>]+>", "x", route)
    route = re.sub(r"\(\?P<[^>]+>[^)]+\)", "x", route)
    return "/" + route.lstrip("^").rstrip("$").replace("\\", "")


# The REST API (integrations): authenticated by API tokens, it answers 401 JSON, not a redirect.
API_PREFIX = "api/v1/"
API_PAGES = {"docs"}  # the API's page for people redirects like every other page

ROUTES = [
    (route, pattern)
    for route, pattern in _walk(get_resolver().url_patterns)
    if not route.startswith(("admin/", "static/", "media/"))
    and pattern.name not in PUBLIC | TOKEN_ROUTES
    and (not route.startswith(API_PREFIX) or pattern.name in API_PAGES)
]
API_ROUTES = [
    (route, pattern)
    for route, pattern in _walk(get_resolver().url_patterns)
    if route.startswith(API_PREFIX) and pattern.name not in API_PAGES
]


@pytest.mark.parametrize(("route", "pattern"), ROUTES, ids=[r for r, _ in ROUTES])
def test_it_sends_anonymous_users_to_login(client, db, route, pattern):
    url = _concrete(route)
    response = client.get(url)
    assert response.status_code == 302, url
    assert response["Location"].startswith("/accounts/login/"), url


@pytest.mark.parametrize(("route", "pattern"), API_ROUTES, ids=[r for r, _ in API_ROUTES])
def test_the_api_answers_anonymous_requests_401(client, db, route, pattern):
    response = client.get(_concrete(route))
    assert response.status_code == 401
    assert "WWW-Authenticate" in response


def test_the_admin_asks_anonymous_users_to_sign_in(client, db):
    response = client.get("/admin/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


@pytest.mark.parametrize("name", sorted(PUBLIC - {"password_reset_confirm", "language-set"}))
def test_public_pages_open_without_signing_in(client, db, name):
    response = client.get(reverse(name))
    assert response.status_code in (200, 503)
