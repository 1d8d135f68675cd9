"""The API docs page runs Swagger UI from installed files under the site's strict CSP."""

import os

import pytest
from django.db import connections
from playwright.sync_api import sync_playwright

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def page(live_server):
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        yield page
        browser.close()
        # The ORM calls made while Playwright drove the page used a connection of their own
        # (Playwright runs the test in a greenlet); close it so the test database can be dropped.
        connections.close_all()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def test_swagger_ui_renders_the_operations_with_no_csp_violation(page, live_server, owner):
    problems = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("requestfailed", lambda r: problems.append(f"failed: {r.url}"))
    page.goto(f"{live_server.url}/accounts/login/?next=/api/v1/docs/")
    page.fill("#id_username", "owner")
    page.fill("#id_password", "pass-for-tests")
    page.click("button[type=submit]")
    page.wait_for_selector(".opblock", timeout=15000)
    assert page.locator(".opblock").count() >= 20
    assert page.locator("text=/api/v1/deals/{id}/move/").count() >= 1
    assert problems == []
