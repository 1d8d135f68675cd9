"""Fixtures for the browser journeys: one running CRM stack per test session, real Chromium.

Every page a test opens is watched: a console error (a Content-Security-Policy violation
included), a failed request, a response of 400 or
more, or any request leaving 127.0.0.1 fails the test (the last one proves nothing is
loaded from outside). On failure a screenshot is saved under ``test-artifacts/``.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.browser.stack import CHROMIUM, CHROMIUM_ARGS, DEMO_PASSWORD, ROOT, Stack, running_stack

ARTIFACTS = ROOT / "test-artifacts"

pytestmark = [pytest.mark.browser]


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser" in str(item.fspath):
            # All journeys share one stack, so they run on one xdist worker.
            item.add_marker(pytest.mark.xdist_group("browser"))
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture(scope="session")
def stack(worker_id: str) -> Iterator[Stack]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is not installed at {CHROMIUM}; `make test` installs it (apt-get install chromium)")
    if reuse := os.environ.get("E2E_BASE_URL"):
        # While writing a journey: point at an already running, seeded server and skip the
        # start-up (the reminder journey also needs its worker and beat).
        yield Stack(base_url=reuse.rstrip("/"), env=dict(os.environ), log_dir=ARTIFACTS / "stack")
        return
    # E2E_REDIS_DB keeps two checkouts' journeys on one machine apart (their queues share names).
    redis_db = int(os.environ.get("E2E_REDIS_DB", "14"))
    with running_stack(name=re.sub(r"\W", "", worker_id), redis_db=redis_db, log_dir=ARTIFACTS / "stack") as running:
        yield running


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class PageProblems:
    def __init__(self) -> None:
        self.items: list[str] = []
        self.allowed_statuses: set[int] = set()

    def add(self, text: str) -> None:
        self.items.append(text)


@pytest.fixture
def problems() -> PageProblems:
    return PageProblems()


def _open_page(browser: Browser, stack: Stack, problems: PageProblems, width: int) -> Page:
    context = browser.new_context(viewport={"width": width, "height": 900}, base_url=stack.base_url)
    page = context.new_page()
    page.set_default_timeout(15_000)

    def guard(route):
        url = route.request.url
        if url.startswith(stack.base_url):
            route.continue_()
        else:
            problems.add(f"request left the machine: {url}")
            route.abort()

    page.route("**/*", guard)
    # A Content-Security-Policy violation is reported as a console error; the listener makes
    # sure of it (a blocked style or report-only violation is not always logged as an error).
    page.add_init_script(
        """document.addEventListener("securitypolicyviolation", (e) =>
             console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"}`
                           + ` at ${e.sourceFile || e.documentURI}:${e.lineNumber}`));"""
    )

    def check_console(msg):
        if msg.type == "error" or "Content Security Policy" in msg.text or msg.text.startswith("Refused to"):
            problems.add(f"console {msg.type}: {msg.text}")

    page.on("console", check_console)
    page.on("pageerror", lambda exc: problems.add(f"page error: {exc}"))
    # ERR_ABORTED is the browser dropping a request because the page navigated away (a favicon
    # still loading, say), not a failure; requests to other hosts are caught by the guard above.
    page.on(
        "requestfailed",
        lambda req: req.failure != "net::ERR_ABORTED" and problems.add(f"request failed: {req.url} {req.failure}"),
    )

    def check_response(response):
        if response.status >= 400 and response.status not in problems.allowed_statuses:
            problems.add(f"HTTP {response.status}: {response.url}")

    page.on("response", check_response)
    return page


@pytest.fixture
def page(request, browser: Browser, stack: Stack, problems: PageProblems) -> Iterator[Page]:
    width = getattr(request, "param", 1366)
    page = _open_page(browser, stack, problems, width)
    yield page
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        name = re.sub(r"\W+", "_", request.node.nodeid)[-120:]
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    page.context.close()
    assert problems.items == [], "\n".join(problems.items)


def login(page: Page, username: str, password: str = DEMO_PASSWORD) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/(?!accounts/login).*"))


def assert_every_field_has_a_label(page: Page) -> None:
    """Each visible input, select and textarea is named by a label or aria-label."""
    unlabeled = page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea')]
            .filter(el => el.type !== 'hidden' && el.type !== 'submit' && el.offsetParent !== null)
            .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                          && !el.getAttribute('aria-labelledby'))
            .map(el => el.outerHTML.slice(0, 120))"""
    )
    assert unlabeled == [], unlabeled


def assert_every_control_has_a_name(page: Page) -> None:
    """Each visible button and link has an accessible name (text, aria-label, aria-labelledby
    or title): an icon-only control is read as "button" otherwise."""
    unnamed = page.evaluate(
        """() => [...document.querySelectorAll('button, a[href], [role=button]')]
            .filter(el => el.offsetParent !== null || getComputedStyle(el).position === 'fixed')
            .filter(el => !(el.getAttribute('aria-label') || '').trim() && !el.getAttribute('aria-labelledby')
                          && !(el.textContent || '').trim() && !(el.getAttribute('title') || '').trim()
                          && !el.querySelector('img[alt]:not([alt=""])'))
            .map(el => el.outerHTML.slice(0, 120))"""
    )
    assert unnamed == [], unnamed


def assert_fits_the_screen(page: Page) -> None:
    """Nothing forces a horizontal scroll at the current viewport width."""
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"page is {overflow}px wider than the screen"


def unique(prefix: str) -> str:
    """A record name no other test uses. Names made from one prefix can still look alike to
    the duplicate warning; ``create_company`` saves anyway when it asks."""
    # Starts with a letter: an all-digit suffix would be searched as a phone number.
    return f"{prefix} q{uuid.uuid4().hex[:11]}"


def record_id(page: Page) -> int:
    """The primary key in the current URL (``/companies/12/``)."""
    match = re.search(r"/(\d+)/(?:[?#].*)?$", page.url)
    assert match, f"no record id in {page.url}"
    return int(match.group(1))


def server_now() -> datetime:
    """Now in the server's time zone: what a ``datetime-local`` field is read in."""
    return datetime.now(ZoneInfo(os.environ.get("TIME_ZONE", "UTC")))


def create_company(page: Page, name: str, *, domain: str = "") -> int:
    """Create a company through the full form as the signed-in user; return its id."""
    page.goto("/companies/")
    page.get_by_role("link", name="New company").click()
    expect(page.get_by_role("heading", name="New company")).to_be_visible()
    assert_every_field_has_a_label(page)
    page.get_by_label("Name").fill(name)
    if domain:
        page.get_by_label("Website or domain").fill(domain)
    page.get_by_role("button", name="Create company").click()
    # Journeys create companies with similar names ("Kanban Works q…"); the possible-duplicate
    # warning then asks first (its own journey checks it), and this helper saves anyway.
    created = page.get_by_role("heading", name=name, level=1)
    warning = page.get_by_role("alert").filter(has_text="This may already be in the CRM")
    expect(created.or_(warning)).to_be_visible()
    if warning.is_visible():
        warning.get_by_role("button", name="Save anyway").click()
    expect(created).to_be_visible()
    return record_id(page)
