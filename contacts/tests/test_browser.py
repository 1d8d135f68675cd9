"""A new rep's first minutes, in Debian's Chromium through Playwright."""

import os

import pytest
from django.db import connections
from playwright.sync_api import sync_playwright

from contacts.models import Company, Contact

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def page(live_server):
    # Playwright's sync API runs an event loop in this thread; the ORM calls below are plain sync.
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


def test_a_rep_adds_a_company_and_a_contact_and_finds_them_by_phone(page, live_server, owner):
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "owner")
    page.fill("#id_password", "pass-for-tests")
    page.click("button[type=submit]")

    page.click("text=Companies")
    page.click("text=Quick add")
    page.fill("#quick_name", "Browser Test GmbH")
    page.fill("#quick_domain", "https://www.browser-test.de/impressum")
    page.fill("#quick_phone", "030 12345678")
    page.select_option("#quick_country", "DE")
    page.click("#quick-add button[type=submit]")
    page.wait_for_selector("h1:has-text('Browser Test GmbH')")
    assert "+49 30 12345678" in page.content()
    company = Company.objects.get(name="Browser Test GmbH")
    assert (company.domain, company.phone) == ("browser-test.de", "+493012345678")

    page.click("text=Add contact")
    page.fill("#id_first_name", "Lena")
    page.fill("#id_last_name", "Schulz")
    page.fill("#id_phone", "12345")
    page.click("button:has-text('Create contact')")
    page.wait_for_selector("text=is not a valid phone number")
    assert not Contact.objects.exists()
    page.fill("#id_phone", "0171 2345678")
    page.click("button:has-text('Create contact')")
    page.wait_for_selector("h1:has-text('Lena Schulz')")
    assert Contact.objects.get().phone == "+491712345678"

    page.fill("#global-search", "+49 (171) 234-5678")
    page.press("#global-search", "Enter")
    page.wait_for_selector("text=Results for")
    assert "Lena Schulz" in page.content()
