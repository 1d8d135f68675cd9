"""An admin shapes the CRM in Django admin; the change shows up in the app at once."""

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import assert_every_field_has_a_label, login, unique


def _open_admin(page: Page, model_link: str) -> None:
    login(page, "admin")
    page.get_by_role("link", name="Admin", exact=True).click()
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()
    page.get_by_role("link", name=model_link, exact=True).click()


def test_an_admin_adds_a_stage_and_the_funnel_shows_it(page: Page):
    stage = unique("Legal review")
    _open_admin(page, "Pipelines")
    page.get_by_role("link", name="Sales", exact=True).click()
    page.get_by_text("Add another Stage").click()
    # The last visible row is the one just added. "Proposal + 1" is the next stage's
    # position: the new stage takes it and that stage moves one down.
    proposal_row = page.locator("tr").filter(has=page.locator("input[name$='-name'][value='Proposal']"))
    proposal_position = int(proposal_row.locator("input[name$='-position']").input_value())
    page.locator("input[name$='-position']:visible").last.fill(str(proposal_position + 1))
    page.locator("input[name$='-name']:visible").last.fill(stage)
    page.locator("input[name$='-probability']:visible").last.fill("60")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")

    page.goto("/reports/funnel/")
    expect(page.get_by_role("heading", name="Sales funnel")).to_be_visible()
    stages = page.get_by_role("table").first.locator("tbody th[scope=row]")
    expect(stages.filter(has_text=stage)).to_be_visible()
    names = stages.all_inner_texts()
    assert names.index("Proposal") < names.index(stage) < names.index("Negotiation"), names


def test_an_admin_adds_an_activity_type_and_can_log_one(page: Page):
    name = unique("Site visit")
    _open_admin(page, "Activity types")
    page.get_by_role("link", name=re.compile("Add activity type", re.I)).click()
    # "Name:" is the type's own field; the outcome rows below have "Name, row N".
    page.get_by_label("Name:", exact=True).press_sequentially(name)
    # The key is filled in from the name by admin's prepopulated-fields script.
    expect(page.get_by_label("Key")).to_have_value(re.compile(r"^site-visit-"))
    page.get_by_label("Icon").fill("bi-geo-alt")
    page.get_by_label("has a due time").check()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")

    page.goto("/activities/log/")
    types = page.get_by_role("group", name="Activity type")
    types.get_by_role("button", name=name).click()
    log = page.locator(".log-activity")
    expect(log.get_by_role("button", name=name, exact=True)).to_have_attribute("aria-pressed", "true")
    assert_every_field_has_a_label(page)
    subject = unique("Walk the warehouse")
    log.get_by_label("Subject").fill(subject)
    log.get_by_role("button", name=f"Save {name}").click()
    expect(log.get_by_role("status")).to_contain_text(f"Logged “{subject}”.")
    log.get_by_role("link", name="Open").click()
    expect(page.get_by_role("heading", name=subject)).to_be_visible()
    expect(page.get_by_role("definition").filter(has_text=name)).to_be_visible()
