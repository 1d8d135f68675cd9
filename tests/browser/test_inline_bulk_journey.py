"""Inline editing and bulk actions in real Chromium, by visible labels."""

import random

from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import create_company, login, unique
from tests.browser.stack import Stack


def saved_anyway_if_asked(page: Page, saved: Locator) -> None:
    """Companies of earlier runs have names alike: the full form's duplicate warning, shown
    in place, may ask first; then save anyway."""
    warning = page.get_by_role("alert").filter(has_text="This looks like a record you already have")
    expect(saved.or_(warning)).to_be_visible()
    if warning.is_visible():
        warning.get_by_role("button", name="Save anyway").click()
    expect(saved).to_be_visible()


def test_an_inline_edit_on_a_stale_page_shows_the_conflict_in_place(page: Page):
    mine, theirs = (f"+49 30 {random.randint(1_000_000, 9_999_999)}" for _ in range(2))
    email = f"office-{random.randint(1000, 999999)}@inline.example"
    login(page, "alice")
    name = unique("Inline Works")
    company = create_company(page, name)
    # A second tab opened on the same company before the first one saves.
    other = page.context.new_page()
    other.goto(f"/companies/{company}/")

    page.get_by_role("button", name="Edit Phone").click()
    phone = page.get_by_label("Phone", exact=True)
    expect(phone).to_be_focused()
    phone.fill(mine)
    phone.press("Enter")
    saved_anyway_if_asked(page, page.get_by_role("link", name=mine))
    expect(page.get_by_role("button", name="Edit Phone")).to_be_focused()

    # Esc leaves the field as it was.
    page.get_by_role("button", name="Edit Email").click()
    page.get_by_label("Email", exact=True).fill("typo@")
    page.get_by_label("Email", exact=True).press("Escape")
    expect(page.get_by_role("button", name="Edit Email")).to_be_focused()
    expect(page.get_by_label("Email", exact=True)).to_have_count(0)

    # The field's own rule, in place: the same message as the full form.
    page.get_by_role("button", name="Edit Email").click()
    page.get_by_label("Email", exact=True).fill("not-an-address")
    page.get_by_role("button", name="Save Email").click()
    expect(page.get_by_role("alert").filter(has_text="Enter a valid email address.")).to_be_visible()
    expect(page.get_by_label("Email", exact=True)).to_have_attribute("aria-invalid", "true")
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Email", exact=True).press("Enter")
    saved_anyway_if_asked(page, page.get_by_role("link", name=email))

    # The stale tab: its save is refused with what the record now says.
    other.get_by_role("button", name="Edit Phone").click()
    other.get_by_label("Phone", exact=True).fill(theirs)
    other.get_by_label("Phone", exact=True).press("Enter")
    alert = other.get_by_role("alert").filter(has_text="after you opened the page")
    expect(alert).to_contain_text("changed this record after you opened the page")
    expect(alert).to_contain_text(mine)
    # Saving again is the deliberate "keep mine".
    other.get_by_role("button", name="Save Phone").click()
    saved_anyway_if_asked(other, other.get_by_role("link", name=theirs))
    other.reload()
    expect(other.get_by_role("link", name=theirs)).to_be_visible()
    expect(other.get_by_role("link", name=email)).to_be_visible()
    other.close()


def test_a_bulk_owner_change_on_all_matching_rows_is_confirmed_and_undone(page: Page):
    login(page, "alice")
    prefix = unique("Bulkmove")
    for n in (1, 2, 3):
        create_company(page, f"{prefix} {n}")

    page.goto("/companies/?view=all")  # all companies, whatever view this user opened last
    page.get_by_placeholder("Name, domain, email or phone").fill(prefix)
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("link", name=f"{prefix} 3")).to_be_visible()

    page.get_by_label("Bulk action").select_option(label="Assign to…")
    page.get_by_label("New owner").select_option(label="Bob Ivanov")
    page.get_by_role("button", name="Apply to all 3 matching").click()

    expect(page.get_by_role("heading", name="Confirm the bulk action")).to_be_visible()
    expect(page.get_by_text("on all 3 companies matching the list's filters")).to_be_visible()
    page.get_by_role("button", name="Yes, change 3 records").click()

    status = page.get_by_role("status").filter(has_text="Assign to")
    expect(status).to_contain_text("3 companies changed")
    rows = page.get_by_role("row").filter(has_text=prefix)
    expect(rows).to_have_count(3)
    for n in range(3):
        expect(rows.nth(n)).to_contain_text("Bob Ivanov")

    status.get_by_role("button", name="Undo").click()
    expect(page.get_by_role("status").filter(has_text="Undone")).to_be_visible()
    for n in range(3):
        expect(rows.nth(n)).to_contain_text("Alice Novak")
        expect(rows.nth(n)).not_to_contain_text("Bob Ivanov")
    # Each company's history has the change and its undo.
    rows.first.get_by_role("link", name=prefix).click()
    expect(page.get_by_text("Bob Ivanov").first).to_be_visible()


def test_a_lifecycle_stage_edited_in_place_on_the_company_list(page: Page):
    login(page, "alice")
    name = unique("Listinline")
    create_company(page, name)
    page.goto("/companies/?view=all")  # all companies, whatever view this user opened last
    page.get_by_placeholder("Name, domain, email or phone").fill(name)
    page.get_by_role("button", name="Search").click()
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=name))
    expect(row).to_have_count(1)

    # Esc leaves the row as it was and gives the focus back to the pencil.
    row.get_by_role("button", name="Edit Lifecycle stage").click()
    stage = row.get_by_label("Lifecycle stage", exact=True)
    expect(stage).to_be_focused()
    stage.select_option(label="Customer")
    stage.press("Escape")
    expect(row.get_by_role("button", name="Edit Lifecycle stage")).to_be_focused()
    expect(row).not_to_contain_text("Customer")

    # Enter saves it in place, through the company form's rules.
    row.get_by_role("button", name="Edit Lifecycle stage").click()
    row.get_by_label("Lifecycle stage", exact=True).select_option(label="Customer")
    row.get_by_label("Lifecycle stage", exact=True).press("Enter")
    saved_anyway_if_asked(page, row.get_by_text("Customer", exact=True))
    expect(row.get_by_role("button", name="Edit Lifecycle stage")).to_be_focused()
    page.reload()
    expect(page.get_by_role("row").filter(has=page.get_by_role("link", name=name))).to_contain_text("Customer")


CASES_SETUP = """
from contacts.models import Company
from crm.models import Team, User
from service import services
alice = User.objects.get(username="alice")
team = Team.objects.create(name={team!r})
team.members.add(alice)
company = Company.objects.create(name={team!r} + " customer", owner=alice)
for n in (1, 2):
    services.case_create(actor=alice, subject=f"{prefix} {{n}}", team=team, company=company, assignee=alice)
"""


def test_a_bulk_status_change_on_the_case_list_and_its_undo(page: Page, stack: Stack):
    prefix = unique("Bulkcase")
    stack.manage("shell", "-c", CASES_SETUP.format(team=unique("Bulk desk"), prefix=prefix))
    login(page, "alice")
    page.goto("/cases/")
    page.get_by_label("Subject").fill(prefix)
    page.get_by_role("button", name="Apply", exact=True).click()
    rows = page.get_by_role("row").filter(has_text=prefix)
    expect(rows).to_have_count(2)

    page.get_by_role("checkbox", name="Select all on this page").check()
    expect(page.get_by_text("2 selected")).to_be_visible()
    page.get_by_label("Bulk action").select_option(label="Change status")
    page.get_by_label("New status").select_option(label="Waiting on customer")
    page.get_by_role("button", name="Apply to selected").click()

    status = page.get_by_role("status").filter(has_text="Change status")
    expect(status).to_contain_text("2 cases changed")
    for n in range(2):
        expect(rows.nth(n)).to_contain_text("Waiting on customer")

    status.get_by_role("button", name="Undo").click()
    expect(page.get_by_role("status").filter(has_text="Undone")).to_be_visible()
    for n in range(2):
        expect(rows.nth(n)).to_contain_text("New")
        expect(rows.nth(n)).not_to_contain_text("Waiting on customer")
