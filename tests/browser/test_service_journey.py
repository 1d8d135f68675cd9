"""A service case in real Chromium, with the stack's own worker and beat: a case opened from
the new-case form breaches its first-response SLA, the assignee is warned once and the
manager gets one escalation, resolving it emails the survey link, the customer rates it
without signing in, and the score shows on the company page."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import ARTIFACTS, assert_every_field_has_a_label, login, record_id, unique
from tests.browser.stack import BEAT_SWEEP_SECONDS, Stack

SETUP = """
from contacts.models import Company, Contact
from crm.models import Team, User
from service.models import SlaPolicy
alice, manager = User.objects.get(username="alice"), User.objects.get(username="manager")
team = Team.objects.create(name={team!r})
team.members.add(alice)
team.managers.add(manager)
# No calendar: this desk works around the clock, so the journey breaches at any hour.
SlaPolicy.objects.create(team=team, priority="urgent", first_response_minutes=1, resolution_minutes=120,
                         warning_minutes=1)
company = Company.objects.create(name={company!r}, owner=alice)
Contact.objects.create(first_name="Rita", last_name={contact!r}, email={email!r}, company=company, owner=alice)
print(company.pk)
"""

COUNT_SLA = """
import json
from crm.models import Notification
rows = Notification.objects.filter(link="/cases/{case}/", dedupe_key__startswith="sla:")
print(json.dumps(sorted([n.user.username, n.text.split(":")[0]] for n in rows)))
"""


def _survey_link(stack: Stack, case: int, since: float, deadline: float) -> str:
    """The link in the survey email for ``case`` sent after ``since`` (the mail directory
    outlives the stack: earlier runs' emails are there too)."""
    mail_dir = Path(stack.env["CRM_VAR_DIR"]) / "mail"
    while time.monotonic() < deadline:
        for path in mail_dir.glob("*") if mail_dir.exists() else []:
            if path.stat().st_mtime < since:
                continue
            text = path.read_text(errors="replace")
            if f"Case #{case}:" in text and "/cases/survey/" in text:
                return re.search(r"(/cases/survey/[\w-]+/)", text).group(1)
        time.sleep(0.5)
    raise AssertionError("no survey email")


def test_a_case_breaches_escalates_once_and_its_rating_reaches_the_company(page: Page, browser: Browser, stack: Stack):
    desk = unique("Journey Desk")
    company_name = unique("Harbour Foods")
    surname = unique("Lund").replace(" ", "")
    company = int(
        stack.manage(
            "shell",
            "-c",
            SETUP.format(team=desk, company=company_name, contact=surname, email=f"rita.{surname}@harbour.example"),
        ).split()[-1]
    )

    # The rep opens the case from the new-case form.
    login(page, "alice")
    page.goto(f"/cases/new/?company={company}")
    expect(page.get_by_role("heading", name="New case")).to_be_visible()
    assert_every_field_has_a_label(page)
    page.get_by_label("Subject").fill("Cold room alarm keeps ringing")
    page.get_by_label("Contact", exact=True).select_option(label=f"Rita {surname}")
    page.get_by_label("Queue").select_option(label=desk)
    page.get_by_label("Assignee", exact=True).select_option(label="Alice Novak")
    page.get_by_label("Priority").select_option("urgent")
    page.get_by_label("Channel").select_option("web")
    page.get_by_label("Description", exact=True).fill("Since this morning, every ten minutes.")
    page.get_by_role("button", name="Open case").click()
    expect(page.get_by_role("heading", name=re.compile("Cold room alarm keeps ringing"), level=1)).to_be_visible()
    case = record_id(page)

    # Nobody answers: beat's sweep warns Alice and, at the breach, escalates to the manager.
    deadline = time.monotonic() + 200
    while time.monotonic() < deadline:
        page.reload()
        if page.locator(".case-sla").get_by_text("SLA breached").count() or page.get_by_text("SLA breached").count():
            break
        time.sleep(5)
    expect(page.locator(".page-title").locator("..").get_by_text("SLA breached")).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "service-case-breached.png"), full_page=True)
    page.goto("/notifications/")
    expect(page.get_by_text(re.compile(rf"SLA warning: case #{case} "))).to_have_count(1)
    # Another sweep runs meanwhile; still one warning and one escalation.
    time.sleep(BEAT_SWEEP_SECONDS + 5)
    sent = json.loads(stack.manage("shell", "-c", COUNT_SLA.format(case=case)).strip().splitlines()[-1])
    assert sent == [["alice", "SLA warning"], ["manager", "SLA breached"]], sent

    # Alice replies and resolves it; the contact gets the survey link by email.
    page.goto(f"/cases/{case}/")
    page.get_by_label("Subject").fill("Technician booked for 14:00")
    page.get_by_role("button", name="Add to conversation").click()
    expect(page.get_by_role("link", name="Technician booked for 14:00")).to_be_visible()
    resolved_at = time.time() - 1
    page.get_by_role("button", name="Resolved").click()
    expect(page.locator(".case-status")).to_have_text("Resolved")
    link = _survey_link(stack, case, resolved_at, time.monotonic() + 30)

    # The customer rates it without signing in; the link then works no more.
    customer = browser.new_context(base_url=stack.base_url).new_page()
    customer.goto(link)
    expect(customer.get_by_role("heading", name="How did we do?")).to_be_visible()
    customer.get_by_label("5", exact=True).check()
    customer.get_by_label("Anything you would like to tell us? (optional)").fill("Fixed the same day!")
    customer.get_by_role("button", name="Send rating").click()
    expect(customer.get_by_role("heading", name="Thank you for your feedback")).to_be_visible()
    response = customer.goto(link)
    assert response is not None and response.status == 404
    customer.context.close()

    # The manager saw the escalation; the score shows on the company page.
    page.goto(f"/companies/{company}/")
    panel = page.locator(".customer-cases")
    expect(panel.get_by_role("link", name=re.compile("Cold room alarm keeps ringing"))).to_be_visible()
    expect(panel.locator(".case-csat-badge")).to_have_text(re.compile(r"5/5"))
    expect(page.get_by_text(re.compile(r"Satisfaction 5/5: Cold room alarm"))).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "service-company-csat.png"), full_page=True)

    page.goto(f"/cases/{case}/")
    expect(page.locator(".csat-score")).to_have_text("5/5")
    page.screenshot(path=str(ARTIFACTS / "service-case-resolved.png"), full_page=True)
