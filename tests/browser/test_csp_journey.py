"""The behaviours that used to be inline handlers work under the Content-Security-Policy.

The page fixture fails a test on any CSP violation in Chromium's console; these journeys
click what was `onsubmit="return confirm(…)"` and `onchange="this.form.submit()"` before.
"""

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import create_company, login, unique


def test_every_page_is_sent_with_the_policy(page: Page):
    response = page.goto("/accounts/login/")

    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-eval" not in policy
    assert "camera=()" in response.headers["permissions-policy"]


def test_archiving_asks_first_and_cancel_keeps_the_record(page: Page):
    login(page, "alice")
    name = unique("Confirm Works")
    company_id = create_company(page, name)
    asked: list[str] = []

    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.get_by_role("button", name="Archive").click()
    expect(page.get_by_role("heading", name=name, level=1)).to_be_visible()
    assert asked and asked[0].startswith("Archive this record?")
    assert page.url.rstrip("/").endswith(f"/{company_id}")

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Archive").click()
    expect(page.get_by_role("heading", name=name, level=1)).to_have_count(0)


def test_the_calendar_switches_person_and_team_when_a_select_changes(page: Page):
    login(page, "manager")
    page.goto("/activities/calendar/")
    team = page.get_by_label("Team")
    team_value = team.locator("option").nth(1).get_attribute("value")

    team.select_option(value=team_value)
    expect(page).to_have_url(re.compile(rf"[?&]team={team_value}"))
    # The URL changes when the navigation commits, before the new page's script has
    # attached its change listener: wait for the load, or the next select races it.
    page.wait_for_load_state("load")

    person = page.get_by_label("Person")
    person_value = person.locator("option").nth(1).get_attribute("value")
    person.select_option(value=person_value)
    # Choosing a person empties the team: one or the other.
    expect(page).to_have_url(re.compile(rf"[?&]user={person_value}"))
    expect(page).to_have_url(re.compile(r"[?&]team=(&|$)"))


def test_my_day_switches_person_when_the_select_changes(page: Page):
    login(page, "manager")
    page.goto("/activities/my-day/")
    whose = page.get_by_role("combobox", name="Whose day")
    value = whose.locator("option").nth(1).get_attribute("value")

    whose.select_option(value=value)

    expect(page).to_have_url(re.compile(rf"[?&]user={value}"))
