"""A manager shapes a pipeline in the app: adds a stage, moves it with the keyboard and by
dragging, and the board shows the new order."""

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import assert_every_field_has_a_label, login, unique


def _stage_names(page: Page) -> list[str]:
    return page.locator(".stage-row input[name$='-name']").evaluate_all("els => els.map(e => e.value)")


def test_a_manager_adds_a_stage_and_reorders_it_by_keyboard_and_by_drag(page: Page):
    name = unique("Security review")
    # Tall enough that the editor never scrolls: the browser restores the scroll position
    # after the "Move up" post, and a drag aimed before that lands on the row below.
    page.set_viewport_size({"width": 1366, "height": 1400})
    login(page, "manager")
    page.goto("/deals/board/")
    page.get_by_role("link", name="Edit stages").click()
    expect(page.get_by_role("heading", name="Sales stages", level=1)).to_be_visible()
    assert_every_field_has_a_label(page)

    add = page.locator("form").filter(has=page.get_by_role("button", name="Add stage"))
    add.get_by_label("Name").fill(name)
    add.get_by_label("Probability %").fill("60")
    add.get_by_label("Rotting days").fill("5")
    add.get_by_role("button", name="Add stage").click()
    expect(page.get_by_role("alert")).to_contain_text(f"Stage “{name}” added.")
    names = _stage_names(page)
    assert names.index(name) == names.index("Won") - 1, names

    # Keyboard: focus "Move … up" and press Enter; the stage goes above Negotiation.
    up = page.get_by_role("button", name=f"Move {name} up")
    up.focus()
    # The button posts a form: wait for the new page to have loaded entirely (its styles and
    # icon font), or the handle measured below is where the row was before the page settled.
    with page.expect_navigation(wait_until="load"):
        page.keyboard.press("Enter")
    expect(page.get_by_role("button", name=f"Move {name} up")).to_be_visible()
    names = _stage_names(page)
    assert names.index("Proposal") < names.index(name) < names.index("Negotiation"), names

    # Drag: its handle onto Qualified's row; the order is saved without a reload.
    row = page.locator(".stage-row").filter(has=page.locator(f"input[value='{name}']"))
    target = page.locator(".stage-row").filter(has=page.locator("input[value='Qualified']"))
    start = row.locator(".stage-handle").bounding_box()
    end = target.locator(".stage-handle").bounding_box()
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] - 5, steps=3)
    expect(row).to_have_class(re.compile(r"\bsortable-chosen\b"))  # the hand holds this row
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + 2, steps=20)
    # SortableJS ignores the pointer while the rows it passes animate (150 ms; longer on a
    # busy machine): keep moving a little, as a hand does, until the row has moved up there.
    for nudge in range(10):
        names = _stage_names(page)
        if names.index(name) < names.index("Proposal"):
            break
        page.wait_for_timeout(100)
        page.mouse.move(end["x"] + end["width"] / 2 + 2 * (nudge % 2), end["y"] + 1 - nudge % 3, steps=2)
    with page.expect_response(lambda r: r.url.endswith("/stages/order/") and r.status == 204):
        page.mouse.up()
    page.reload()
    names = _stage_names(page)
    assert names.index(name) < names.index("Proposal"), names

    page.goto("/deals/board/")
    titles = page.locator(".kanban-column [id^='col-title-']").all_inner_texts()
    joined = " | ".join(titles)  # the board's columns follow the editor's order
    assert joined.index(name) < joined.index("Proposal"), joined


def test_a_rep_is_refused_the_editor(browser, stack):
    # A page of its own: the journey's page fixture reports every 4xx as a problem.
    page = browser.new_context(base_url=stack.base_url).new_page()
    login(page, "alice")
    page.goto("/deals/board/")
    expect(page.get_by_role("link", name="Edit stages")).to_have_count(0)
    response = page.goto("/deals/pipelines/")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", name="You cannot do that here")).to_be_visible()
    page.context.close()
