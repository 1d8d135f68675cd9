"""The service report in real Chromium: a manager opens Reports › Service and sees the case
that breached its first-response SLA in their queue counted (backlog, breaches, the queue's
SLA row), filtered to that queue."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.conftest import ARTIFACTS, login, unique
from tests.browser.stack import Stack

SETUP = """
import datetime as dt
from django.utils import timezone
from contacts.models import Company
from crm.models import Team, User
from reports import services as reports
from reports.selectors import rollup_status
from service import services
from service.models import SlaPolicy
alice, manager = User.objects.get(username="alice"), User.objects.get(username="manager")
team = Team.objects.create(name={team!r})
team.members.add(alice)
team.managers.add(manager)
SlaPolicy.objects.create(team=team, priority="high", first_response_minutes=1, resolution_minutes=600)
company = Company.objects.create(name={company!r}, owner=alice)
case = services.case_create(actor=alice, subject="Freezer door broken", team=team, company=company,
                            priority="high", assignee=alice, now=timezone.now() - dt.timedelta(minutes=30))
services.sla_sweep()  # beat would do this within a minute; here at once
if rollup_status().generation_id is None:
    reports.rollups_rebuild()
reports.rollups_refresh_for_case(case_id=case.pk)  # what the queued refresh does
print(team.pk)
"""


def test_a_manager_sees_a_breached_case_counted_in_the_service_report(page: Page, stack: Stack):
    desk = unique("Report Desk")
    team = int(stack.manage("shell", "-c", SETUP.format(team=desk, company=unique("Polar Foods"))).split()[-1])

    login(page, "manager")
    page.goto("/reports/")
    page.get_by_role("link", name="Service").first.click()
    expect(page.get_by_role("heading", name="Service", level=1)).to_be_visible()
    page.get_by_label("Team").select_option(label=desk)
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(rf"team={team}"))

    expect(page.locator("#stat-open")).to_have_text("1")
    expect(page.locator("#stat-breached")).to_have_text("1")
    row = page.locator("#sla-table tbody tr").filter(has_text=desk)
    expect(row.locator("td").nth(2)).to_have_text("1")  # first response breached
    # The queue's open total: the age bucket depends on the day (opened 30 minutes ago is
    # "1–2 days" just after midnight).
    expect(page.locator("#backlog-table tbody tr").filter(has_text=desk).locator("td").last).to_have_text("1")
    expect(page.locator("svg[role=img] title").first).to_have_text("Open cases by age")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "service-report.png"), full_page=True)

    # The CSV carries the same figures.
    with page.expect_download() as download:
        page.get_by_role("link", name="CSV").click()
    text = Path(download.value.path()).read_text(encoding="utf-8")
    assert re.search(rf"SLA by queue,{re.escape(desk)},,[^\n]*?,1,0,1,0\.0,", text), text
