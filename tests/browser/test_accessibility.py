"""Every main page: each field is labelled, nothing errors, and it works at phone width.

One test per person and width walks all of that person's pages (signing in once per page
would make the suite minutes slower) and reports every page that fails, not only the first.
"""

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import (
    assert_every_control_has_a_name,
    assert_every_field_has_a_label,
    assert_fits_the_screen,
    login,
)

# path → the level-1 heading the page shows (None: the page's own, not checked by name)
REP_PAGES = {
    "/": None,
    "/companies/": "Companies",
    "/companies/new/": "New company",
    "/contacts/": "Contacts",
    "/imports/": "Imports",
    "/imports/new/": "Import companies or contacts",
    "/duplicates/": None,
    "/duplicates/?kind=company": None,
    "/data-quality/": "Data quality",
    "/deals/": "Deals",
    "/deals/new/": "New deal",
    "/deals/board/": "Sales",
    "/activities/": "Activities",
    "/activities/log/?type=task": "Log an activity",
    "/activities/log/?type=call": "Log an activity",
    "/activities/log/?type=meeting": "Log an activity",
    "/activities/log/?type=email": "Log an activity",
    "/activities/log/?type=note": "Log an activity",
    "/activities/my-day/": "My day",
    "/activities/calendar/": None,
    "/activities/calendar/?view=week": None,
    "/activities/calendar/?view=day": None,
    "/notifications/": "Notifications",
    "/account/preferences/": None,
    "/cases/": "Cases",
    "/cases/new/": "New case",
}
MANAGER_PAGES = {
    "/reports/": "Reports",
    "/reports/funnel/": "Sales funnel",
    "/reports/forecast/": "Forecast",
    "/reports/forecast/accuracy/": None,
    "/reports/win-loss/": None,
    "/reports/velocity/": None,
    "/reports/activity/": None,
    "/reports/builder/?dataset=deals&dim1=source&dim2=quarter&measure=sum_amount_base&chart=stacked": "Report builder",
    "/reports/saved/": "Saved reports",
    "/reports/dashboards/": "Dashboards",
    "/reports/customers/": "Customer segments",
    "/reports/customers/top/": "Most valuable customers",
    "/reports/customers/cohorts/": "Retention by cohort",
    "/reports/customers/dormant/": "Dormant customers",
    "/reports/customers/cross-sell/": "Products bought together",
    "/deals/pipelines/": None,
}
# The first record of each list: the 360 pages, the deal page and the case page.
RECORD_LISTS = ["/companies/", "/contacts/", "/deals/", "/cases/"]


def _open(page: Page, path: str, heading: str | None) -> None:
    page.goto(path)
    if heading:
        expect(page.get_by_role("heading", name=heading, level=1)).to_be_visible()
    else:
        expect(page.get_by_role("heading", level=1).first).to_be_visible()


def _walk(page: Page, user: str, pages: dict[str, str | None], check: Callable[[Page], None]) -> None:
    login(page, user)
    failures = []
    for path, heading in pages.items():
        _open(page, path, heading)
        try:
            check(page)
        except AssertionError as exc:
            failures.append(f"{path}: {exc}")
    if user == "alice":
        for list_path in RECORD_LISTS:
            page.goto(list_path)
            page.locator("table tbody").get_by_role("link").first.click()
            # The list has a heading too: wait for the record's page to have loaded, or the
            # check may measure the page half-way (a 35 px overflow seen once, mid-navigation).
            page.wait_for_url(re.compile(r"/\d+/$"))
            page.wait_for_load_state("load")
            expect(page.get_by_role("heading", level=1)).to_be_visible()
            try:
                check(page)
            except AssertionError as exc:
                failures.append(f"{page.url}: {exc}")
    assert failures == [], "\n".join(failures)


@pytest.mark.parametrize(("user", "pages"), [("alice", REP_PAGES), ("manager", MANAGER_PAGES)])
def test_every_field_on_every_main_page_has_a_label(page: Page, user: str, pages: dict[str, str | None]):
    _walk(page, user, pages, assert_every_field_has_a_label)


def test_every_field_on_the_contact_form_has_a_label(page: Page):
    login(page, "alice")
    _open(page, "/contacts/new/", "New contact")
    assert_every_field_has_a_label(page)


@pytest.mark.parametrize("page", [390], indirect=True)
@pytest.mark.parametrize(
    ("user", "pages"),
    [("alice", {**REP_PAGES, "/contacts/new/": "New contact"}), ("manager", MANAGER_PAGES)],
)
def test_every_main_page_fits_a_phone_screen(page: Page, user: str, pages: dict[str, str | None]):
    _walk(page, user, pages, assert_fits_the_screen)


def test_the_merge_screen_has_a_label_for_every_choice_and_fits_a_phone(page: Page):
    login(page, "alice")
    page.goto("/duplicates/?kind=contact")
    page.get_by_role("link", name="Merge…").first.click()
    expect(page.get_by_role("heading", name=re.compile("^Merge "), level=1)).to_be_visible()
    assert_every_field_has_a_label(page)
    page.set_viewport_size({"width": 390, "height": 844})
    assert_fits_the_screen(page)


def _labelled_and_named(page: Page, where: str, failures: list[str]) -> None:
    for check in (assert_every_field_has_a_label, assert_every_control_has_a_name):
        try:
            check(page)
        except AssertionError as exc:
            failures.append(f"{where}: {exc}")


def test_the_new_controls_are_labelled_and_named(page: Page, stack):
    """Inline editors open, the bulk bar with rows ticked, the attachments form, a quote, the
    calendar's time grid with a "Move" form open, and the pipeline editor."""
    failures: list[str] = []
    login(page, "alice")
    deal_id = stack.manage(
        "shell",
        "-v",
        "0",
        "-c",
        "from deals.models import Deal; print(Deal.objects.filter(owner__username='alice', status='open',"
        " line_items__isnull=False).order_by('id').values_list('id', flat=True).first())",
    ).split()[-1]

    # The deal page with every inline editor open.
    page.goto(f"/deals/{deal_id}/")
    # (Amount follows the line items on this deal, so it has no editor here.)
    for label in ("Owner", "Stage", "Expected close"):
        page.get_by_role("button", name=f"Edit {label}").click()
        expect(page.get_by_role("button", name=f"Save {label}")).to_be_visible()
    _labelled_and_named(page, "deal page, inline editors open", failures)

    # A deal list row's inline editor open.
    page.goto("/deals/")
    page.locator("table tbody").get_by_role("button", name=re.compile(r"^Edit ")).first.click()
    expect(page.locator("table tbody [data-inline-editor]")).to_be_visible()
    _labelled_and_named(page, "deal list, row editor open", failures)

    # A list with rows ticked: the bulk bar's inputs for each action.
    page.goto("/deals/")
    page.locator("table tbody input[type=checkbox]").first.check()
    expect(page.get_by_role("button", name="Apply to selected")).to_be_enabled()
    for option in page.get_by_label("Bulk action").locator("option").all_inner_texts():
        if option.strip():
            page.get_by_label("Bulk action").select_option(label=option.strip())
            _labelled_and_named(page, f"deal list, bulk bar, {option.strip()}", failures)

    # A company page: the files panel and its upload form.
    page.goto("/companies/?view=all")  # all companies, whatever view this user opened last
    page.locator("table tbody").get_by_role("link").first.click()
    expect(page.get_by_label("Drop files here or choose them")).to_be_visible()
    _labelled_and_named(page, "company page, files", failures)

    # A quote page, with its send form and Emails panel.
    page.goto(f"/deals/{deal_id}/")
    page.get_by_role("button", name="Make a quote").click()
    expect(page.get_by_role("heading", name=re.compile(r"^Quote Q-"))).to_be_visible()
    _labelled_and_named(page, "quote page", failures)

    # The week grid, with an activity's "Move" form open.
    page.goto("/activities/calendar/?view=week")
    _labelled_and_named(page, "calendar week grid", failures)
    move = page.locator(".crm-grid-move").first
    if move.count():
        move.click()
        expect(page.locator("[popover]:popover-open")).to_be_visible()
        _labelled_and_named(page, "calendar week grid, Move form open", failures)
    page.goto("/activities/calendar/?view=day")
    _labelled_and_named(page, "calendar day grid", failures)

    # The pipeline editor and a stage's delete page (a manager's).
    page.context.clear_cookies()  # signed out: the sign-in page would send alice home
    login(page, "manager")
    page.goto("/deals/pipelines/")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    _labelled_and_named(page, "pipeline editor", failures)
    page.get_by_role("link", name=re.compile(r"^Delete ")).first.click()
    expect(page.get_by_role("heading", name=re.compile(r"^Delete the stage"))).to_be_visible()
    _labelled_and_named(page, "stage delete page", failures)

    assert failures == [], "\n".join(failures)
