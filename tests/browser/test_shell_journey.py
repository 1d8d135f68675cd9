"""Signing in and finding one's way around, in real Chromium."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import assert_every_field_has_a_label, assert_fits_the_screen, login


def test_a_rep_signs_in_and_sees_the_home_page(page: Page):
    login(page, "alice")
    # Home is the rep's day: what is due, with the other apps' panels.
    expect(page.get_by_role("heading", name="My day", level=1)).to_be_visible()
    expect(page.get_by_role("button", name="Alice Novak")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main navigation")).to_be_visible()
    assert_every_field_has_a_label(page)


def test_a_wrong_password_is_explained(page: Page, problems):
    page.goto("/accounts/login/")
    assert_every_field_has_a_label(page)
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Please enter a correct username and password")).to_be_visible()


def test_the_admin_reaches_django_admin(page: Page):
    login(page, "admin")
    page.get_by_role("link", name="Admin").click()
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()


@pytest.mark.parametrize("page", [390], indirect=True)
def test_the_shell_is_usable_at_phone_width(page: Page):
    login(page, "bob")
    assert_fits_the_screen(page)
    page.get_by_role("button", name="Toggle navigation").click()
    expect(page.get_by_role("searchbox", name=re.compile("Search"))).to_be_visible()
    assert_fits_the_screen(page)


@pytest.mark.parametrize("page", [1200, 1280, 1600], indirect=True)
def test_the_navigation_bar_fits_a_laptop_screen(page: Page):
    """The admin's bar is the longest (every section and Admin): from 1200 px it is laid out
    in one row without a sideways scroll, its last control, the user menu, on the screen."""
    login(page, "admin")
    page.goto("/contacts/")
    assert_fits_the_screen(page)
    expect(page.get_by_role("button", name="Toggle navigation")).to_be_hidden()
    expect(page.get_by_role("link", name="Admin", exact=True)).to_be_visible()
    menu = page.get_by_role("navigation", name="Main navigation").locator(".dropdown-toggle")
    expect(menu).to_be_visible()
    box = menu.bounding_box()
    assert box is not None and box["x"] + box["width"] <= page.viewport_size["width"]
    menu.click()
    expect(page.get_by_role("button", name="Sign out", exact=True)).to_be_visible()


@pytest.mark.parametrize("page", [1024], indirect=True)
def test_below_a_laptop_screen_the_sections_fold_into_the_menu_button(page: Page):
    login(page, "admin")
    assert_fits_the_screen(page)
    page.get_by_role("button", name="Toggle navigation").click()
    expect(page.get_by_role("link", name="Admin", exact=True)).to_be_visible()
    assert_fits_the_screen(page)


@pytest.mark.parametrize("page", [1200, 1280, 1366], indirect=True)
def test_the_russian_navigation_bar_fits_a_laptop_screen_too(page: Page):
    """Russian labels are the longest ("Качество данных", "Администратор"): one row, each
    label on one line (the bar is as high as the English one), no sideways scroll."""
    login(page, "admin")
    english = page.locator(".crm-navbar").bounding_box()
    page.context.add_cookies([{"name": "django_language", "value": "ru", "url": page.url}])
    page.goto("/contacts/")
    expect(page.get_by_role("link", name="Администратор", exact=True)).to_be_visible()
    assert_fits_the_screen(page)
    russian = page.locator(".crm-navbar").bounding_box()
    assert english is not None and russian is not None
    assert russian["height"] == english["height"]
    quality = page.get_by_role("link", name="Качество данных", exact=True).bounding_box()
    deals = page.get_by_role("link", name="Сделки", exact=True).bounding_box()
    assert quality is not None and deals is not None and quality["height"] == deals["height"]
