"""Security headers on every page, no inline script anywhere, and `check --deploy` clean in production."""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

from django.test import Client
from django.urls import reverse

ROOT = Path(__file__).resolve().parents[2]

# The settings a TLS deployment uses, as README "Headers and production settings" lists them.
PRODUCTION_ENV = {
    "DEBUG": "0",
    "ALLOWED_HOSTS": "crm.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://crm.example.com",
    "SITE_URL": "https://crm.example.com",
    "SECURE_SSL_REDIRECT": "1",
    "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1",
    "SECURE_HSTS_PRELOAD": "1",
}


def _csp_directives(header: str) -> dict[str, list[str]]:
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def test_a_page_carries_the_security_headers(owner_client):
    response = owner_client.get(reverse("home"))

    assert response.status_code == 200
    csp = _csp_directives(response.headers["Content-Security-Policy"])
    assert csp["script-src"] == ["'self'"]
    assert csp["style-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["default-src"] == ["'self'"]
    assert "'unsafe-eval'" not in response.headers["Content-Security-Policy"]
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "camera=()" in response.headers["Permissions-Policy"]
    assert "geolocation=()" in response.headers["Permissions-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_login_page_carries_them_too(client):
    response = client.get(reverse("login"))

    assert response.status_code == 200
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["Permissions-Policy"]


def test_htmx_runs_without_eval(owner_client):
    html = owner_client.get(reverse("home")).content.decode()

    assert '"allowEval": false' in html
    assert '"includeIndicatorStyles": false' in html


def test_hsts_and_secure_cookies_over_https(settings, owner):
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True
    client = Client()  # built after the settings change: middleware reads them when loaded

    response = client.post(reverse("login"), {"username": owner.username, "password": "wrong"}, secure=True)
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    client.force_login(owner)
    response = client.get(reverse("home"), secure=True)
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert client.cookies["sessionid"]["secure"]


def test_no_hsts_over_plain_http(settings, owner_client):
    settings.SECURE_HSTS_SECONDS = 31536000

    response = owner_client.get(reverse("home"))

    assert "Strict-Transport-Security" not in response.headers


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.IGNORECASE)
JS_URL = re.compile(r"""(?:href|src|action)\s*=\s*["']?\s*javascript:""", re.IGNORECASE)


def _markup_sources() -> list[Path]:
    templates = list((ROOT / "templates").rglob("*.html")) + list((ROOT / "templates").rglob("*.svg"))
    templates += list(ROOT.glob("*/jinja2/**/*.html"))  # the rows' Jinja2 templates
    # Python that writes HTML rows (template tags and crm/html.py).
    python = [
        path
        for path in ROOT.glob("*/**/*.py")
        if ".venv" not in path.parts and "tests" not in path.parts and "migrations" not in path.parts
    ]
    return templates + python


def test_no_inline_script_handler_or_javascript_url_in_markup():
    offenders = []
    for path in _markup_sources():
        text = path.read_text(encoding="utf-8")
        for pattern in (INLINE_SCRIPT, INLINE_HANDLER, JS_URL):
            offenders += [f"{path.relative_to(ROOT)}: {m.group(0)[:80]}" for m in pattern.finditer(text)]
    assert offenders == []


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_the_documented_production_settings():
    env = {**PRODUCTION_ENV, "SECRET_KEY": secrets.token_urlsafe(64)}

    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=env)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_names_what_is_missing_without_them():
    env = {"DEBUG": "0", "ALLOWED_HOSTS": "crm.example.com", "SECRET_KEY": secrets.token_urlsafe(64)}

    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=env)

    assert result.returncode != 0
    assert "security.W004" in result.stderr + result.stdout  # no HSTS
    assert "security.W008" in result.stderr + result.stdout  # no HTTPS redirect


def test_a_bad_proxy_header_name_stops_start_up():
    result = subprocess.run(
        [sys.executable, "-c", "import crm.settings"],
        cwd=ROOT,
        env={**os.environ, "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto: https"},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    assert "SECURE_PROXY_SSL_HEADER must be a header name" in result.stderr


def test_plain_http_is_redirected_to_https_except_the_health_probe(settings, owner):
    settings.SECURE_SSL_REDIRECT = True
    client = Client()
    client.force_login(owner)

    response = client.get(reverse("home"))
    assert response.status_code == 301
    assert response["Location"].startswith("https://")
    assert client.get(reverse("healthz")).status_code in (200, 503)  # answered, not redirected
    assert client.get(reverse("home"), secure=True).status_code == 200
