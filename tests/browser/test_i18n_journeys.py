"""The CRM in Russian and in Chinese, in real Chromium: a rep switches to Russian and works
through the rep journey (company, contact, deal moved on the board, a logged call); a manager who
reads the CRM in Chinese reads the funnel, the forecast and customer value.

Each step leaves a screenshot in ``$E2E_SCREENSHOT_DIR`` (default ``test-artifacts/journeys/``);
the README's "Languages" section shows the ones copied to ``docs/screenshots/i18n/``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.utils import translation
from playwright.sync_api import Page, expect

from tests.browser.conftest import ARTIFACTS, assert_every_field_has_a_label, login, unique

SHOTS = Path(os.environ.get("E2E_SCREENSHOT_DIR", ARTIFACTS / "journeys"))
# Interface words that must not be left in English on the pages these journeys open.
ENGLISH = re.compile(r"\b(Companies|Contacts|Deals|Activities|Reports|New company|New deal|Save|Search|Amount|Owner)\b")


def _t(language: str, text: str) -> str:
    """``text`` as the CRM's catalogue translates it into ``language``."""
    with translation.override(language):
        return translation.gettext(text)


def _shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def _no_english(page: Page) -> None:
    text = page.locator("main").inner_text()
    assert not ENGLISH.search(text), ENGLISH.search(text)


def _switch_language(page: Page, code: str) -> None:
    """Through the language menu in the user menu (saved with the account)."""
    page.locator("nav .dropdown > button.dropdown-toggle").last.click()
    with page.expect_navigation():
        page.locator("#language-switcher-menu").select_option(code)
    expect(page.locator("html")).to_have_attribute("lang", code)


@pytest.fixture
def bob_in_russian(page: Page) -> Iterator[Page]:
    login(page, "bob")
    _switch_language(page, "ru")
    yield page
    # Bob's other journeys read the CRM in English: switch back even when a step failed.
    page.goto("/")
    _switch_language(page, "en")


def test_a_rep_switches_to_russian_and_works_through_the_day(bob_in_russian: Page):
    page = bob_in_russian
    ru = lambda text: _t("ru", text)  # noqa: E731
    expect(page.get_by_role("link", name=ru("Companies")).first).to_be_visible()
    _shot(page, "rep-ru-1-my-day")

    # A company with a Cyrillic name, through the full form.
    name = unique("Северный ветер")
    page.goto("/companies/")
    page.get_by_role("link", name=ru("New company")).click()
    expect(page.get_by_role("heading", name=ru("New company"))).to_be_visible()
    assert_every_field_has_a_label(page)
    page.locator("#id_name").fill(name)
    page.get_by_role("button", name=ru("Create company")).click()
    created = page.get_by_role("heading", name=name, level=1)
    warning = page.get_by_role("alert").filter(has_text=ru("This may already be in the CRM"))
    expect(created.or_(warning)).to_be_visible()
    if warning.is_visible():
        warning.get_by_role("button", name=ru("Save anyway")).click()
    expect(created).to_be_visible()
    _no_english(page)

    # A contact at it: Russian names, ё kept.
    slug = name.split()[-1]
    page.get_by_role("link", name=ru("Add contact")).click()
    assert_every_field_has_a_label(page)
    page.locator("#id_first_name").fill("Пётр")
    page.locator("#id_last_name").fill(f"Семёнов {slug}")
    page.get_by_role("button", name=ru("Create contact")).click()
    created = page.get_by_role("heading", name=f"Пётр Семёнов {slug}", level=1)
    # The demo has a Пётр Семёнов (dmitry's): the duplicate check may ask first.
    warning = page.get_by_role("alert").filter(has_text=ru("This may already be in the CRM"))
    expect(created.or_(warning)).to_be_visible()
    if warning.is_visible():
        warning.get_by_role("button", name=ru("Save anyway")).click()
    expect(created).to_be_visible()
    _shot(page, "rep-ru-2-contact")

    # Found in the list by "Семенов", written with е.
    page.goto("/contacts/")
    filters = page.get_by_role("search", name=ru("Filter the list"))
    filters.get_by_role("searchbox", name=ru("Search")).fill(f"Семенов {slug}")
    filters.get_by_role("button", name=ru("Search")).click()
    expect(page.get_by_role("link", name=f"Пётр Семёнов {slug}")).to_be_visible()

    # A deal from the company page, then moved on the board with the keyboard.
    page.get_by_role("link", name=name).first.click()
    expect(page.get_by_role("heading", name=name, level=1)).to_be_visible()
    title = f"{name}: внедрение"
    page.locator(".customer-deals").get_by_role("link", name=ru("New deal")).click()
    expect(page.get_by_role("heading", name=ru("New deal"))).to_be_visible()
    assert_every_field_has_a_label(page)
    page.locator("#id_title").fill(title)
    page.locator("#id_amount").fill("1250000")
    page.locator("#id_stage").select_option(label="Sales › Lead (10%)")
    page.get_by_role("button", name=ru("Save"), exact=True).click()
    expect(page.get_by_role("heading", name=title, level=1)).to_be_visible()
    # Money as a Russian reader writes it.
    expect(page.get_by_text(re.compile(r"1\s250\s000,00")).first).to_be_visible()
    _shot(page, "rep-ru-3-deal")

    page.goto("/deals/board/")
    card = page.get_by_role("region", name=re.compile(r"^Lead \d+%")).get_by_role("article", name=title)
    expect(card).to_be_visible()
    card.get_by_role("button", name=ru("Move to…")).focus()
    page.keyboard.press("Enter")
    expect(card.get_by_role("list")).to_be_visible()
    for _ in range(10):
        page.keyboard.press("ArrowDown")
        if page.evaluate("() => document.activeElement.textContent.trim()") == "Qualified":
            break
    with page.expect_response(lambda r: r.url.endswith("/move/") and r.request.method == "POST") as moved:
        page.keyboard.press("Enter")
    assert moved.value.ok
    page.reload()
    expect(
        page.get_by_role("region", name=re.compile(r"^Qualified \d+%")).get_by_role("article", name=title)
    ).to_be_visible()
    _shot(page, "rep-ru-4-board")

    # A call logged on the company's page.
    page.get_by_role("region", name=re.compile(r"^Qualified \d+%")).get_by_role("link", name=title).click()
    page.get_by_role("link", name=name).first.click()
    expect(page.get_by_role("heading", name=name, level=1)).to_be_visible()
    page.wait_for_load_state("networkidle")  # htmx attached before the type buttons are pressed
    log = page.locator(".log-activity")
    call = log.get_by_role("group").locator("button:has(.bi-telephone)").first
    call.click()
    expect(log.get_by_role("group").locator("button:has(.bi-telephone)").first).to_have_attribute(
        "aria-pressed", "true"
    )
    subject = unique("Звонок: обсудили пилот")
    log.locator("input[name=subject]").fill(subject)
    log.locator("button[type=submit]").first.click()
    expect(page.get_by_role("region", name=ru("Timeline")).get_by_text(subject)).to_be_visible()
    _no_english(page)
    _shot(page, "rep-ru-5-company-with-call")


def test_a_manager_reads_the_funnel_forecast_and_customer_value_in_chinese(page: Page):
    zh = lambda text: _t("zh-hans", text)  # noqa: E731
    login(page, "wei")  # the demo manager whose language is Simplified Chinese
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    page.get_by_role("navigation", name=zh("Main navigation")).get_by_role("link", name=zh("Reports")).click()
    expect(page.get_by_role("heading", name=zh("Reports"), level=1)).to_be_visible()

    page.get_by_role("link").filter(has=page.get_by_role("heading", name=zh("Sales funnel"), exact=True)).click()
    expect(page.get_by_role("heading", name=zh("Sales funnel"), level=1)).to_be_visible()
    expect(page.get_by_role("table").first.locator("tbody tr").first).to_be_visible()
    _no_english(page)
    _shot(page, "manager-zh-1-funnel")

    page.goto("/reports/forecast/")
    expect(page.get_by_role("heading", name=zh("Forecast"), level=1)).to_be_visible()
    # Amounts in the Chinese format: grouped with commas, two decimals (¥/US$ signs or codes).
    expect(page.locator("main").get_by_text(re.compile(r"\d{1,3}(,\d{3})+")).first).to_be_visible()
    _no_english(page)
    _shot(page, "manager-zh-2-forecast")

    page.goto("/reports/customers/")
    expect(page.get_by_role("heading", name=zh("Customer segments"), level=1)).to_be_visible()
    _no_english(page)
    _shot(page, "manager-zh-3-customer-segments")

    page.goto("/reports/customers/top/")
    expect(page.locator("main table tbody tr").first).to_be_visible()
    _no_english(page)
    _shot(page, "manager-zh-4-top-customers")
