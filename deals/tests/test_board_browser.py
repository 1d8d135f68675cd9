"""The board in real Chromium: drag a card to another column, then read the deal's history."""

import pytest
from django.db import connections
from playwright.sync_api import expect, sync_playwright

from deals.models import StageChange
from deals.tests.factories import DealFactory, LostReasonFactory, make_pipeline, stage

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


def _drag(page, source, target) -> None:
    """Mouse down, move in steps, release: how a person drags (SortableJS listens to these)."""
    start = source.bounding_box()
    end = target.bounding_box()
    page.mouse.move(start["x"] + 12, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(start["x"] + 24, start["y"] + start["height"] / 2 + 10, steps=5)
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + 20, steps=20)
    page.mouse.up()


@pytest.fixture
def browser_page(live_server, owner, monkeypatch):
    # Playwright's sync API runs an event loop in this thread; the ORM calls in the test are
    # ordinary blocking calls made between browser steps.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("#id_username", "owner")
        page.fill("#id_password", "pass-for-tests")
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/")
        yield page
        browser.close()
        # The ORM calls made while Playwright drove the page used a connection of their own
        # (Playwright runs the test in a greenlet); close it so the test database can be dropped.
        connections.close_all()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_rep_drags_a_deal_across_the_board_and_its_history_shows_the_move(live_server, owner, browser_page):
    pipeline = make_pipeline()
    deal = DealFactory(owner=owner, pipeline=pipeline, title="Drag me")
    proposal = stage(pipeline, "Proposal")
    page = browser_page
    page.goto(f"{live_server.url}/deals/board/{pipeline.pk}/")
    _drag(page, page.locator(f"#deal-card-{deal.pk}"), page.locator(f"#cards-{proposal.pk}"))
    expect(page.locator(f"#cards-{proposal.pk} #deal-card-{deal.pk}")).to_be_visible()
    expect(page.locator(f"#col-head-{proposal.pk} .badge")).to_have_text("1")
    deal.refresh_from_db()
    assert deal.stage == proposal
    page.goto(f"{live_server.url}/deals/{deal.pk}/")
    expect(page.locator(".stage-history li").first).to_contain_text("Lead")
    expect(page.locator(".stage-history li").first).to_contain_text("Proposal")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_drop_on_lost_asks_why_and_the_move_menu_works_by_keyboard(live_server, owner, browser_page):
    pipeline = make_pipeline()
    LostReasonFactory(name="No budget")
    deal = DealFactory(owner=owner, pipeline=pipeline, title="Keyboard deal")
    lost = stage(pipeline, "Lost")
    qualified = stage(pipeline, "Qualified")
    page = browser_page
    page.goto(f"{live_server.url}/deals/board/{pipeline.pk}/")
    card = page.locator(f"#deal-card-{deal.pk}")
    card.get_by_role("button", name="Move to…").focus()
    page.keyboard.press("Enter")
    card.get_by_role("button", name="Qualified").focus()
    page.keyboard.press("Enter")
    expect(page.locator(f"#cards-{qualified.pk} #deal-card-{deal.pk}")).to_be_visible()

    _drag(page, page.locator(f"#deal-card-{deal.pk}"), page.locator(f".kanban-dropzone[data-stage-id='{lost.pk}']"))
    dialog = page.locator("#move-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Why was it lost?").select_option(label="No budget")
    dialog.get_by_role("button", name="Move").click()
    page.wait_for_url(f"{live_server.url}/deals/board/{pipeline.pk}/")
    deal.refresh_from_db()
    assert deal.status == "lost"
    assert StageChange.objects.filter(deal=deal, to_stage=lost, lost_reason__name="No budget").exists()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_move_saved_but_answered_with_an_error_shows_the_card_where_it_really_is(live_server, owner, browser_page):
    """A proxy (or a server) answers 502 to a move the CRM did save: the board re-reads the
    card instead of putting it back, so the rep does not believe a saved move failed."""
    pipeline = make_pipeline()
    deal = DealFactory(owner=owner, pipeline=pipeline, title="Saved but 502")
    proposal = stage(pipeline, "Proposal")
    page = browser_page

    def saved_then_bad_gateway(route):
        route.fetch()  # the CRM really handles (and saves) the move…
        route.fulfill(status=502, body="Bad gateway")  # …but the browser gets an error

    page.route("**/deals/*/move/", saved_then_bad_gateway)
    page.goto(f"{live_server.url}/deals/board/{pipeline.pk}/")
    _drag(page, page.locator(f"#deal-card-{deal.pk}"), page.locator(f"#cards-{proposal.pk}"))

    expect(page.locator(f"#cards-{proposal.pk} #deal-card-{deal.pk}")).to_be_visible()
    expect(page.locator(f"#col-head-{proposal.pk} .badge")).to_have_text("1")
    expect(page.locator(f"#deal-card-{deal.pk}")).to_have_count(1)
    deal.refresh_from_db()
    assert deal.stage == proposal


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_refused_move_shows_the_card_where_someone_else_put_it(live_server, owner, browser_page):
    from deals import services

    pipeline = make_pipeline()
    deal = DealFactory(owner=owner, pipeline=pipeline, title="Moved by someone else")
    proposal, negotiation = stage(pipeline, "Proposal"), stage(pipeline, "Negotiation")
    page = browser_page
    page.goto(f"{live_server.url}/deals/board/{pipeline.pk}/")
    services.deal_move_stage(deal=deal, stage=negotiation, actor=owner)  # after the board was loaded

    _drag(page, page.locator(f"#deal-card-{deal.pk}"), page.locator(f"#cards-{proposal.pk}"))

    expect(page.locator(f"#cards-{negotiation.pk} #deal-card-{deal.pk}")).to_be_visible()
    expect(page.locator(f"#col-head-{negotiation.pk} .badge")).to_have_text("1")
    expect(page.locator(f"#col-head-{proposal.pk} .badge")).to_have_text("0")
    deal.refresh_from_db()
    assert deal.stage == negotiation
