"""Issue #19: an admin adds custom fields to companies; a rep fills them in, filters the company
list by them, saves that as a view and shares it with the team."""

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import login, unique


def test_an_admin_adds_fields_and_a_rep_fills_and_filters_by_them(page: Page):
    suffix = unique("x").split()[-1]
    renewal, region = f"Renewal {suffix}", f"Territory {suffix}"
    login(page, "admin")
    for label, kind, choices in [(renewal, "Date", ""), (region, "One choice", "North\nSouth")]:
        page.goto("/admin/crm/customfield/add/")
        page.get_by_label("Record").select_option(label="Company")
        page.get_by_label("Label").fill(label)
        page.get_by_label("Type").select_option(label=kind)
        page.get_by_label("Choices").fill(choices)
        page.get_by_role("button", name="Save", exact=True).click()
        expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    page.context.clear_cookies()

    login(page, "alice")
    name = unique("Renewal Co")
    page.goto("/companies/new/")
    page.get_by_label("Name").fill(name)
    details = page.locator("fieldset", has_text="More details")
    details.get_by_label(region).select_option("South")
    details.get_by_label(renewal).fill("2027-05-31")
    page.get_by_role("button", name="Create company").click()
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    card = page.locator("[data-custom-fields]")
    expect(card).to_contain_text(region)
    expect(card).to_contain_text("South")
    expect(card).to_contain_text("2027-05-31")

    page.goto("/companies/?view=all")
    page.get_by_role("button", name=re.compile("Filters")).click()
    filters = page.locator("#list-filters")
    filters.get_by_label(region, exact=True).select_option("South")
    filters.get_by_label(f"{renewal} from").fill("2027-05-01")
    page.get_by_role("button", name="Search").click()
    rows = page.locator("table.crm-list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(name)

    views = page.locator("[data-saved-views]")
    views.get_by_role("button", name="Columns").click()
    views.get_by_label(region, exact=True).check()
    page.get_by_role("button", name="Apply", exact=True).click()
    expect(page.locator("table.crm-list thead")).to_contain_text(region)

    views = page.locator("[data-saved-views]")
    views.get_by_role("button", name="Save view").click()
    views.get_by_label("Name", exact=True).fill(f"South renewals {suffix}")
    views.get_by_label("Share with").select_option(index=1)
    views.get_by_role("button", name="Save as new view").click()
    expect(page).to_have_url(re.compile(r"/companies/\?view=\d+$"))
    expect(page.locator("table.crm-list tbody tr")).to_have_count(1)
    expect(page.locator("table.crm-list thead")).to_contain_text(region)
