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
    assert_every_field_has_a_label(page)
    expect(page.get_by_label("Company", exact=True)).to_have_value(str(company))
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
    expect(page.locator("#company-contacts").get_by_role("link", name=f"Ingrid Berg {slug}")).to_be_visible()
    expect(page.get_by_role("region", name="Timeline").get_by_role("link", name=f"Ingrid Berg {slug}")).to_be_visible()


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
    create_company(page, name)
    subject = unique("Intro call")

    # The company page carries the log form; picking a type swaps the form in place.
    log = page.locator(".log-activity")
    log.get_by_role("button", name="Call", exact=True).click()
    expect(log.get_by_role("button", name="Call", exact=True)).to_have_attribute("aria-pressed", "true")
    assert_every_field_has_a_label(page)
    log.get_by_label("Subject").fill(subject)
    log.get_by_label("Duration").fill("25")
    # A call's outcome is picked from the call type's outcomes (Admin › Activity types).
    log.get_by_label("Outcome").select_option("Connected")
    log.get_by_role("button", name="Save Call").click()

    expect(log.get_by_role("status")).to_contain_text(f"Logged “{subject}”.")
    expect(page.get_by_role("region", name="Timeline").get_by_text(subject)).to_be_visible()
    log.get_by_role("link", name="Open").click()
    expect(page.get_by_role("heading", name=subject)).to_be_visible()
    expect(page.get_by_text("25 minutes")).to_be_visible()
    expect(page.get_by_text("Connected", exact=True)).to_be_visible()
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

    # The earliest the form accepts: this minute. Beat sweeps due reminders (here every 15 s).
    assert_every_field_has_a_label(page)
    page.get_by_label("Remind me at").fill(server_now().strftime(DATETIME_LOCAL))
    page.get_by_role("button", name="Add reminder").click()
    expect(page.get_by_text("Reminder set.")).to_be_visible()
    reminders = page.locator(".card", has=page.get_by_text("Reminders", exact=True))
    # Listed, and pending unless beat's sweep (every 15 s here) already picked it up: it is due.
    expect(reminders.locator(".badge").filter(has_text=re.compile(r"^(Pending|Sending|Sent)$"))).to_have_count(1)

    bell = page.get_by_role("link", name=re.compile(r"unread notifications?$"))
    before = bell.get_attribute("aria-label")
    # The worker sends within a minute or so; the bell polls every 30 s without a reload.
    expect(bell).not_to_have_attribute("aria-label", before, timeout=150_000)

    bell.click()
    expect(page.get_by_role("heading", name="Notifications")).to_be_visible()
    page.get_by_role("link", name=re.compile(re.escape(subject))).first.click()
    expect(page).to_have_url(re.compile(rf"/activities/{task}/$"))
    expect(page.get_by_text("Sent")).to_be_visible()


def _create_deal(page: Page, title: str) -> None:
    """From a new company's page: a new deal in the first stage of the default pipeline."""
    create_company(page, unique("Kanban Works"))
    page.locator(".customer-deals").get_by_role("link", name="New deal").click()
    expect(page.get_by_role("heading", name="New deal")).to_be_visible()
    assert_every_field_has_a_label(page)
    page.get_by_label("Title").fill(title)
    page.get_by_role("spinbutton", name=re.compile(r"^Amount")).fill("12000")
    page.get_by_label("Stage").select_option(label="Sales › Lead (10%)")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("heading", name=title, level=1)).to_be_visible()
    page.get_by_role("link", name="Deals").first.click()
    page.get_by_role("link", name="Sales board").click()
    expect(page.get_by_role("heading", name="Sales", level=1)).to_be_visible()


def test_a_rep_finds_the_company_of_a_new_deal_by_typing_and_gets_its_contacts(page: Page):
    login(page, "alice")
    name = unique("Picker Freight")
    create_company(page, name)
    page.get_by_role("link", name="Add contact").click()
    page.get_by_label("Last name").fill(f"Dock {name.split()[-1]}")
    page.get_by_role("button", name="Create contact").click()
    expect(page.get_by_role("heading", name=f"Dock {name.split()[-1]}", level=1)).to_be_visible()

    page.goto("/deals/new/")
    company = page.get_by_label("Company", exact=True)
    expect(company.locator("option")).to_have_count(1)  # only "—": no list of every company
    page.get_by_label("Find a company").fill(name)
    expect(company.locator("option:checked")).to_have_text(name)
    # Picking the company brings its contacts into the contacts list.
    expect(page.get_by_label("Contacts").locator("option")).to_have_text([f"Dock {name.split()[-1]}"])


def _column(page: Page, stage: str):
    return page.get_by_role("region", name=re.compile(rf"^{stage} \d+%"))


def test_a_rep_creates_a_deal_and_drags_it_across_the_board(page: Page):
    # Other journeys on the shared stack add stages between Lead and Qualified (the pipeline
    # editor's): a wide window keeps both columns on screen for the drag.
    page.set_viewport_size({"width": 1920, "height": 1000})
    login(page, "alice")
    title = unique("Fleet renewal")
    _create_deal(page, title)
    card = _column(page, "Lead").get_by_role("article", name=title)
    expect(card).to_be_visible()

    target = _column(page, "Qualified").locator(".kanban-cards")
    card.scroll_into_view_if_needed()
    # Grab the card by its plain text: a press on its title link would follow the link.
    start = card.get_by_text(re.compile(r"days? in stage")).bounding_box()
    end = target.bounding_box()
    page.mouse.move(start["x"] + 5, start["y"] + 5)
    page.mouse.down()
    page.mouse.move(start["x"] + 15, start["y"] + 10, steps=3)
    page.mouse.move(end["x"] + 50, end["y"] + 30, steps=25)
    # On the way the card's placeholder passes through the columns in between, and SortableJS
    # ignores the pointer while their 150 ms animation runs: keep moving a little, as a hand
    # does, until the placeholder sits in the target column.
    ghost = target.locator(".deal-card-ghost")
    for nudge in range(10):
        if ghost.count():
            break
        page.wait_for_timeout(100)
        page.mouse.move(end["x"] + 50 + 4 * (nudge % 2), end["y"] + 30 + 2 * nudge, steps=2)
    expect(ghost).to_have_count(1)
    # The card jumps columns on drop, before the server has stored the move: wait for the
    # answer, or the reload below can overtake the request.
    with page.expect_response(lambda r: r.url.endswith("/move/") and r.request.method == "POST") as moved:
        page.mouse.up()
    assert moved.value.ok

    expect(_column(page, "Qualified").get_by_role("article", name=title)).to_be_visible()
    expect(_column(page, "Lead").get_by_role("article", name=title)).to_have_count(0)
    page.reload()
    expect(_column(page, "Qualified").get_by_role("article", name=title)).to_be_visible()


def test_a_rep_moves_a_deal_with_the_keyboard_only(page: Page):
    login(page, "alice")
    title = unique("Warehouse sensors")
    _create_deal(page, title)
    card = _column(page, "Lead").get_by_role("article", name=title)

    card.get_by_role("button", name="Move to…").focus()
    page.keyboard.press("Enter")
    menu = card.get_by_role("list")
    expect(menu).to_be_visible()
    for _ in range(10):
        page.keyboard.press("ArrowDown")
        if page.evaluate("() => document.activeElement.textContent.trim()") == "Proposal":
            break
    with page.expect_response(lambda r: r.url.endswith("/move/") and r.request.method == "POST") as moved:
        page.keyboard.press("Enter")
    assert moved.value.ok

    expect(_column(page, "Proposal").get_by_role("article", name=title)).to_be_visible()
    page.reload()
    moved = _column(page, "Proposal").get_by_role("article", name=title)
    expect(moved).to_be_visible()
    moved.get_by_role("link", name=title).click()
    expect(page.get_by_role("heading", name=title, level=1)).to_be_visible()
    expect(page.get_by_text("Proposal").first).to_be_visible()


def test_a_rep_is_warned_about_a_near_duplicate_and_can_save_anyway(page: Page):
    login(page, "bob")
    name = unique("Polar Logistics")
    slug = name.split()[-1]
    create_company(page, name, domain=f"polar-{slug}.example")

    page.goto("/companies/new/")
    page.get_by_label("Name").fill(f"{name} AS")
    page.get_by_label("Website or domain").fill(f"www.polar-{slug}.example")
    page.get_by_role("button", name="Create company").click()

    warning = page.get_by_role("alert").filter(has_text="This may already be in the CRM")
    expect(warning).to_be_visible()
    expect(warning.get_by_role("link", name=name, exact=True)).to_be_visible()
    expect(warning.get_by_text(f"same domain polar-{slug}.example")).to_be_visible()
    # "AS" is a legal form, which the matching drops: the names count as the same.
    expect(warning.get_by_text("same name", exact=True)).to_be_visible()
    assert_every_field_has_a_label(page)

    warning.get_by_role("button", name="Save anyway").click()
    expect(page.get_by_role("heading", name=f"{name} AS", level=1)).to_be_visible()
