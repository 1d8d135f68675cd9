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


def test_a_keyboard_user_plans_a_meeting_and_moves_it_without_dragging(page: Page):
    day = (server_now() + timedelta(days=random.randint(30, 3000))).date().isoformat()
    subject = unique("Keyboard sync")
    login(page, "alice")
    page.goto(f"/activities/calendar/?view=week&date={day}")
    start = page.get_by_label("New meeting at")
    start.fill(f"{day}T10:00")
    start.press("Enter")
    expect(page.get_by_role("heading", name="Log an activity")).to_be_visible()
    expect(page.get_by_label("Starts")).to_have_value(f"{day}T10:00")
    log = page.locator(".log-activity")
    log.get_by_label("Subject").fill(subject)
    log.get_by_label("Subject").press("Enter")
    expect(log.get_by_role("status")).to_contain_text(f"Logged “{subject}”.")

    page.goto(f"/activities/calendar/?view=day&date={day}")
    meeting = page.locator(".crm-grid-item", has_text=subject)
    expect(meeting).to_contain_text("10:00")
    # Tab from the meeting to its "Move" button; Enter opens the form, already at its time.
    meeting.focus()
    page.keyboard.press("Tab")
    move = page.get_by_role("button", name=f"Move “{subject}”…")
    expect(move).to_be_focused()
    page.keyboard.press("Enter")
    when = page.get_by_label(f"New time for “{subject}”")
    expect(when).to_be_visible()
    expect(when).to_have_value(f"{day}T10:00")
    page.keyboard.press("Tab")  # into the form
    expect(when).to_be_focused()
    when.fill(f"{day}T16:00")
    when.press("Enter")
    page.wait_for_url(f"**/activities/calendar/?view=day&date={day}")
    meeting = page.locator(".crm-grid-item", has_text=subject)
    expect(meeting).to_contain_text("16:00")
    meeting.click()
    expect(page.locator("dd", has_text="16:00")).to_contain_text("17:00")  # still an hour long
