"""A sales rep's day in real Chromium: customers, a call, a task with a reminder."""

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import (
    assert_every_field_has_a_label,
    create_company,
    login,
    record_id,
    server_now,
    unique,
)

DATETIME_LOCAL = "%Y-%m-%dT%H:%M"


def test_a_rep_creates_a_company_and_a_contact_at_it(page: Page):
    login(page, "alice")
    name = unique("Fjord Analytics")
    slug = name.split()[-1]
    company = create_company(page, name, domain=f"https://www.fjord-{slug}.example/about")

    expect(page.get_by_role("link", name=f"fjord-{slug}.example")).to_be_visible()
    expect(page.get_by_role("definition").filter(has_text="Alice Novak")).to_be_visible()

    page.get_by_role("link", name="Add contact").click()
    expect(page.get_by_role("heading", name="New contact")).to_be_visible()
    # The contact form's labels are checked in test_accessibility (its company picker fails).
    # The select has no accessible name yet (see test_accessibility), hence the id.
    expect(page.locator("#id_company")).to_have_value(str(company))
    page.get_by_label("First name").fill("Ingrid")
    page.get_by_label("Last name").fill(f"Berg {slug}")
    page.get_by_label("Title").fill("Head of Data")
    page.get_by_label("Email", exact=True).fill(f"  Ingrid.Berg@Fjord-{slug}.example ")
    page.get_by_role("button", name="Create contact").click()

    expect(page.get_by_role("heading", name=f"Ingrid Berg {slug}", level=1)).to_be_visible()
    expect(page.get_by_text(f"Head of Data · {name}")).to_be_visible()
    # The address was normalised on the way in.
    expect(page.get_by_role("link", name=f"ingrid.berg@fjord-{slug}.example")).to_be_visible()

    page.get_by_role("navigation", name="breadcrumb").get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", name=name, level=1)).to_be_visible()
    expect(page.get_by_role("link", name=f"Ingrid Berg {slug}")).to_be_visible()


def test_a_rep_sees_what_to_fix_when_a_form_is_wrong(page: Page):
    login(page, "bob")
    page.goto("/contacts/new/")
    page.get_by_label("Email", exact=True).fill("not-an-address")
    page.get_by_role("button", name="Create contact").click()

    expect(page.get_by_role("alert")).to_contain_text("Nothing was saved")
    expect(page.get_by_text("Enter a valid email address.")).to_be_visible()
    expect(page.get_by_label("Email", exact=True)).to_have_value("not-an-address")


def test_a_rep_finds_the_new_company_in_the_list(page: Page):
    login(page, "bob")
    name = unique("Harbour Freight")
    create_company(page, name)

    page.get_by_role("link", name="Companies").first.click()
    assert_every_field_has_a_label(page)
    filters = page.get_by_role("search", name="Filter the list")
    filters.get_by_role("searchbox", name="Search").fill(name.split()[-1])
    filters.get_by_role("button", name="Search").click()
    expect(page.get_by_role("link", name=name)).to_be_visible()


def test_a_rep_logs_a_call_on_a_company(page: Page):
    login(page, "alice")
    name = unique("Nordlys Energy")
    company = create_company(page, name)
    subject = unique("Intro call")

    page.goto(f"/activities/log/?on=company:{company}&type=call")
    log = page.locator(".log-activity")
    expect(log.get_by_role("button", name="Call", exact=True)).to_have_attribute("aria-pressed", "true")
    assert_every_field_has_a_label(page)
    log.get_by_label("Subject").fill(subject)
    log.get_by_label("Duration").fill("25")
    log.get_by_label("Outcome").fill("Wants a demo next week")
    log.get_by_role("button", name="Save Call").click()

    expect(log.get_by_role("status")).to_contain_text(f"Logged “{subject}”.")
    log.get_by_role("link", name="Open").click()
    expect(page.get_by_role("heading", name=subject)).to_be_visible()
    expect(page.get_by_text("25 minutes")).to_be_visible()
    expect(page.get_by_text("Wants a demo next week")).to_be_visible()
    page.get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", name=name, level=1)).to_be_visible()


@pytest.mark.slow
def test_a_rep_sets_a_reminder_and_the_bell_rings(page: Page):
    login(page, "carol")
    subject = unique("Send the revised quote")

    page.goto("/activities/")
    page.get_by_role("link", name="New task").click()
    assert_every_field_has_a_label(page)
    page.get_by_label("Subject").fill(subject)
    page.get_by_label("Due").fill((server_now() + timedelta(minutes=10)).strftime(DATETIME_LOCAL))
    page.get_by_role("button", name="Save Task").click()
    page.locator(".log-activity").get_by_role("link", name="Open").click()
    expect(page.get_by_role("heading", name=subject)).to_be_visible()
    task = record_id(page)

    # The earliest the form accepts: this minute. Beat sweeps due reminders every minute.
    assert_every_field_has_a_label(page)
    page.get_by_label("Remind me at").fill(server_now().strftime(DATETIME_LOCAL))
    page.get_by_role("button", name="Add reminder").click()
    expect(page.get_by_text("Reminder set.")).to_be_visible()
    reminders = page.locator(".card", has=page.get_by_text("Reminders", exact=True))
    expect(reminders.get_by_text("Pending")).to_be_visible()

    bell = page.get_by_role("link", name=re.compile(r"unread notifications?$"))
    before = bell.get_attribute("aria-label")
    # The worker sends within a minute or so; the bell polls every 30 s without a reload.
    expect(bell).not_to_have_attribute("aria-label", before, timeout=150_000)

    bell.click()
    expect(page.get_by_role("heading", name="Notifications")).to_be_visible()
    page.get_by_role("link", name=re.compile(re.escape(subject))).first.click()
    expect(page).to_have_url(re.compile(rf"/activities/{task}/$"))
    expect(page.get_by_text("Sent")).to_be_visible()
