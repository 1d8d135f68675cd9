"""Closed-loop marketing: a manager builds the segment "At risk, Russia", starts a call
campaign; a rep finds the call in My day, records the response, creates a deal from it and
wins it; the campaign page shows the revenue and the ROI."""

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import assert_every_field_has_a_label, login, unique


def _logout(page: Page) -> None:
    page.context.clear_cookies()


def test_a_call_campaign_closes_the_loop(page: Page):
    login(page, "manager")
    page.goto("/campaigns/")
    page.get_by_role("link", name="New segment").click()
    expect(page.get_by_role("heading", name="New segment", level=1)).to_be_visible()
    assert_every_field_has_a_label(page)
    segment = unique("At risk, Russia")
    page.get_by_label("Name").fill(segment)
    page.get_by_label("At risk").check()
    page.get_by_label("Can't lose").check()
    page.get_by_label("Country").select_option(label="Russia")
    # The live count comes before saving.
    expect(page.locator("#segment-count")).to_contain_text(re.compile(r"\d+ contacts? match"))
    page.get_by_role("button", name="Save segment").click()
    expect(page.get_by_role("link", name=segment)).to_be_visible()

    page.goto("/campaigns/new/")
    assert_every_field_has_a_label(page)
    name = unique("Win back Russia")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Goal").select_option("retain")
    page.get_by_label("Channel").select_option("call")
    page.get_by_label("Target segment").select_option(label=segment)
    # The team's reps see the campaign (the manager's own records they would not).
    page.get_by_label("Team").select_option(label="Inside Sales")
    page.get_by_label("Budget").fill("2000")
    page.get_by_label("Actual cost").fill("1000")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name=name, level=1)).to_be_visible()
    page.get_by_role("button", name="Start: freeze the target list").click()
    expect(page.locator(".campaign-freeze")).to_contain_text(re.compile(r"\d+ members?"))
    expect(page.locator(".campaign-freeze")).to_contain_text("call task")
    campaign_url = page.url
    rep = page.locator(".member-row td:nth-child(3)").first.inner_text().strip()
    username = {"Alice Novak": "alice", "Bob Ivanov": "bob"}[rep]

    _logout(page)
    login(page, username)
    page.goto("/")
    expect(page.get_by_text(f"Call: {name}").first).to_be_visible()

    page.goto(campaign_url + "?mine=1")
    page.locator(".member-row a").first.click()
    page.get_by_label("Response").select_option("meeting_booked")
    page.get_by_role("button", name="Save response").click()
    expect(page.locator(".member-status")).to_have_text("Meeting booked")
    page.get_by_label("Amount").fill("12000")
    page.get_by_label("Currency").select_option("USD")
    page.get_by_role("button", name="Create deal").click()
    expect(page).to_have_url(re.compile(r"/deals/\d+/$"))
    page.get_by_role("button", name="Won").click()
    expect(page.get_by_text("Won").first).to_be_visible()

    page.goto(campaign_url)
    expect(page.locator(".loop-deals")).to_have_text("1")
    expect(page.locator(".loop-won")).to_contain_text("12,000")
    # (12,000 − 1,000) ÷ 1,000 = 1,100 %
    expect(page.locator(".loop-roi")).to_have_text("1100 %")
    expect(page.locator(".loop-cpw")).to_contain_text("1,000")
