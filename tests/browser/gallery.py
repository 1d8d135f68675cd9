"""Write a screenshot of every main page to docs/screenshots/ (``make screenshots``).

Runs the same stack as the browser tests (own database with demo data, web, worker, beat).
A page whose URL does not exist yet is skipped with a message, so the gallery grows as
features land.
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.browser.stack import CHROMIUM, CHROMIUM_ARGS, DEMO_PASSWORD, running_stack  # noqa: E402

OUT = ROOT / "docs" / "screenshots"

# (file name, user, path, viewport width)
PAGES = [
    ("01-login", None, "/accounts/login/", 1366),
    ("02-home", "alice", "/", 1366),
    ("03-companies", "alice", "/companies/", 1366),
    ("04-contacts", "alice", "/contacts/", 1366),
    ("05-deals", "alice", "/deals/", 1366),
    ("06-kanban", "manager", "/deals/board/", 1366),
    ("07-activities", "alice", "/activities/", 1366),
    ("08-my-day", "alice", "/activities/my-day/", 1366),
    ("09-calendar", "alice", "/activities/calendar/", 1366),
    ("10-reports", "manager", "/reports/", 1366),
    ("11-notifications", "alice", "/notifications/", 1366),
    ("12-home-mobile", "alice", "/", 390),
]


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with running_stack(name="gallery", redis_db=15, log_dir=ROOT / "var" / "gallery") as stack, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        contexts = {}
        for name, user, path, width in PAGES:
            key = (user, width)
            if key not in contexts:
                context = browser.new_context(viewport={"width": width, "height": 900}, base_url=stack.base_url)
                page = context.new_page()
                if user:
                    page.goto("/accounts/login/")
                    page.fill("#id_username", user)
                    page.fill("#id_password", DEMO_PASSWORD)
                    page.click("button[type=submit]")
                    page.wait_for_load_state("networkidle")
                contexts[key] = page
            page = contexts[key]
            response = page.goto(path)
            if response is None or response.status == 404:
                print(f"skipped {name}: {path} is not served yet")
                continue
            page.wait_for_load_state("networkidle")
            target = OUT / f"{name}.png"
            page.screenshot(path=str(target), full_page=width > 400)
            print(target.relative_to(ROOT))
        browser.close()


if __name__ == "__main__":
    main()
