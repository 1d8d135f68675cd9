"""A rep plans a meeting by clicking an empty time in the calendar's day grid, then drags it
to the afternoon; the meeting keeps its length."""

import random
from datetime import timedelta

from playwright.sync_api import Page, expect

from tests.browser.conftest import login, server_now, unique


def test_a_rep_plans_a_meeting_from_an_empty_slot_and_drags_it_to_another_time(page: Page):
    # A day of its own, so an earlier run's meeting is not in the way.
    day = (server_now() + timedelta(days=random.randint(30, 3000))).date().isoformat()
    subject = unique("Roadmap review")
    login(page, "alice")
    page.goto(f"/activities/calendar/?view=day&date={day}")
    page.locator(f"a.crm-grid-slot[data-start='{day}T09:00']").click()
    expect(page.get_by_role("heading", name="Log an activity")).to_be_visible()
    expect(page.get_by_label("Starts")).to_have_value(f"{day}T09:00")
    log = page.locator(".log-activity")
    log.get_by_label("Subject").fill(subject)
    log.get_by_role("button", name="Save Meeting").click()
    expect(log.get_by_role("status")).to_contain_text(f"Logged “{subject}”.")

    page.goto(f"/activities/calendar/?view=day&date={day}")
    meeting = page.locator(".crm-grid-item", has_text=subject)
    expect(meeting).to_contain_text("09:00")
    with page.expect_response(lambda r: "/reschedule/" in r.url):
        meeting.drag_to(page.locator(f"a.crm-grid-slot[data-start='{day}T14:30']"))
    page.wait_for_load_state("load")
    meeting = page.locator(".crm-grid-item", has_text=subject)
    expect(meeting).to_contain_text("14:30")

    meeting.click()
    expect(page.get_by_role("heading", name=subject)).to_be_visible()
    expect(page.locator("dd", has_text="14:30")).to_contain_text("15:30")  # still an hour long
