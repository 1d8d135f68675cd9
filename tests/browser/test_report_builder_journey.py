"""A manager builds "won revenue by source by quarter for my teams", drills into one cell,
saves the report, pins it to the team dashboard and makes that the team's default; a rep of
the team then sees the dashboard on the Reports home with only their own figures.

Screenshots of every step go to docs/screenshots/report-builder/.
"""

import re
import uuid

from playwright.sync_api import Page, expect

from tests.browser.conftest import assert_every_field_has_a_label, login
from tests.browser.stack import ROOT

SHOTS = ROOT / "docs" / "screenshots" / "report-builder"


def _shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _money(text: str) -> float:
    return float(re.sub(r"[^\d.]", "", text) or 0)


def test_a_manager_builds_saves_and_pins_a_report_a_rep_sees_their_share(page: Page):
    suffix = uuid.uuid4().hex[:6]
    report_name = f"Won revenue by source by quarter {suffix}"
    board_name = f"Inside Sales weekly {suffix}"

    # 1. The manager opens the builder from the Reports home.
    login(page, "manager")
    page.goto("/reports/")
    page.get_by_role("link").filter(has=page.get_by_role("heading", name="Report builder", exact=True)).click()
    expect(page.get_by_role("heading", name="Report builder", level=1)).to_be_visible()
    assert_every_field_has_a_label(page)

    # 2. Won revenue, by source, by quarter of the close date, for the team they manage.
    form = page.get_by_role("search", name="Report definition")
    form.get_by_label("Group by").select_option(label="Source")
    form.get_by_label("Then by").select_option(label="Date by quarter")
    form.get_by_label("Measure").select_option(label="Sum of amount")
    form.get_by_label("Date", exact=True).select_option(label="Closed")
    form.get_by_label("From").fill("2025-01-01")
    form.get_by_label("To", exact=True).fill("2026-12-31")
    form.get_by_label("Status").select_option(label="Won")
    form.get_by_label("Team").select_option(label="Inside Sales")
    form.get_by_label("Chart").select_option(label="Stacked bars")
    form.get_by_role("button", name="Run").click()
    expect(page).to_have_url(re.compile(r"dim2=quarter"))
    table = page.locator("table.builder-table")
    expect(table.get_by_role("columnheader", name="Source")).to_be_visible()
    expect(page.locator("svg.report-chart[role=img] title").first).to_have_text(re.compile("Sum of amount"))
    _shot(page, "01-builder-won-by-source-by-quarter")
    manager_total = _money(table.locator("tfoot td").last.inner_text())
    assert manager_total > 0

    # 3. Drill into one cell: the deal list opens with exactly that cell's filters.
    cell = table.locator("tbody td a").first
    cell_value = _money(cell.inner_text())
    cell.click()
    expect(page).to_have_url(re.compile(r"/deals/\?.*status=won"))
    assert "source=" in page.url and "closed_from=" in page.url and "closed_to=" in page.url
    assert "team=" in page.url
    expect(page.get_by_role("heading", name="Deals", level=1)).to_be_visible()
    rows = page.locator("table tbody tr")
    assert rows.count() >= 1
    assert cell_value > 0
    _shot(page, "02-drill-into-a-cell")
    page.go_back()

    # 4. Save it, shared with the team.
    page.get_by_label("Report name").fill(report_name)
    page.get_by_label("Share with").select_option(label="Inside Sales")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("heading", name=report_name, level=1)).to_be_visible()
    expect(page.get_by_text("Shared with Inside Sales")).to_be_visible()
    _shot(page, "03-saved-report")

    # 5. A team dashboard, made the team's default, with the report pinned to it.
    page.goto("/reports/dashboards/")
    assert_every_field_has_a_label(page)
    page.get_by_label("Dashboard name").fill(board_name)
    page.get_by_label("For").select_option(label="Inside Sales")
    page.get_by_role("button", name="Create dashboard").click()
    expect(page.get_by_role("heading", name=board_name, level=1)).to_be_visible()
    page.get_by_role("button", name="Make it the team's default").click()
    expect(page.get_by_text("Team default").first).to_be_visible()
    page.goto("/reports/saved/")
    page.get_by_role("link", name=report_name).click()
    page.get_by_label("Dashboard", exact=True).select_option(label=f"{board_name} (Inside Sales)")
    page.get_by_role("button", name="Pin").click()
    expect(page.get_by_role("heading", name=board_name, level=1)).to_be_visible()
    expect(page.get_by_role("link", name=report_name)).to_be_visible()
    _shot(page, "04-team-dashboard-manager")

    # 6. Alice, a rep of Inside Sales, opens Reports: the team's default dashboard, her figures only.
    page.context.clear_cookies()
    login(page, "alice")
    page.goto("/reports/")
    section = page.locator("section", has=page.get_by_role("heading", name=re.compile(board_name)))
    expect(section).to_be_visible()
    expect(section.get_by_role("link", name=report_name)).to_be_visible()
    _shot(page, "05-reports-home-rep")
    card_links = section.locator("table.builder-table tbody a")
    expect(card_links.first).to_be_visible()  # the demo data gives Alice won deals
    totals = section.locator("table.builder-table tbody td.fw-semibold").all_inner_texts()
    assert 0 < sum(_money(t) for t in totals) < manager_total  # her teammates' deals are not hers
    cell_text = card_links.first.inner_text()
    card_links.first.click()
    expect(page).to_have_url(re.compile(r"/deals/\?.*owner=\d+"))
    # The list's total of these deals is the figure of the cell she clicked.
    total = page.locator(".card", has=page.get_by_text("total of these deals")).locator(".stat")
    expect(total).to_have_text(re.compile(rf"^{re.escape(cell_text)}\s"))
    owner_filter = page.get_by_role("form", name="Filter deals").get_by_label("Owner")
    expect(owner_filter.locator("option:checked")).to_have_text("Alice Novak")
    _shot(page, "06-rep-drills-into-her-cell")
