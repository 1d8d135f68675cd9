"""Write a screenshot of every main page to docs/screenshots/ (``make screenshots``).

Runs the same stack as the browser tests (own database with demo data, web, worker, beat).
A page whose URL does not exist yet is skipped with a message, so the gallery grows as
features land.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.browser.stack import CHROMIUM, CHROMIUM_ARGS, DEMO_PASSWORD, running_stack  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
DESKTOP, PHONE = 1366, 390

# Ids of real records of the demo data, looked up once in the gallery's own database.
RECORD_IDS = """
import json
from django.db.models import Count
from contacts.models import Company
from crm.models import User
alice = User.objects.get(username="alice")
company = (
    Company.objects.visible_to(alice)
    .filter(owner=alice, contacts__isnull=False, deals__status="open", deals__owner=alice)
    .filter(name__regex=r"^[ -~]+$")  # Latin names: the machine may lack CJK fonts
    .annotate(deal_count=Count("deals", distinct=True)).order_by("-deal_count", "id").first()
)
contact = company.contacts.order_by("id").first()
deal = company.deals.filter(status="open", owner=alice).order_by("-amount", "id").first()
# The demo's big-revenue-but-unprofitable customer (deals.demo.WHALE_SKU) and one of its deals.
whale = Company.objects.filter(deals__line_items__product__sku="DEMO-HW").distinct().first()
whale_deal = whale.deals.filter(status="won").order_by("-closed_at", "id").first()
print(json.dumps({"company": company.pk, "contact": contact.pk, "deal": deal.pk, "whale": whale.pk,
                  "whale_deal": whale_deal.pk}))
"""


MESSY_CSV = (
    "Имя;Фамилия;Почта;Телефон;Компания;Страна;Должность\n"
    "Анна;Петрова;anna.gallery@example.ru;8 916 123-45-67;ООО Ромашка;Россия;Директор\n"
    "Иван;;ivan.gallery@example.ru;;ООО Ромашка;Россия;\n"
    "John;Smith;john.gallery@example;+1 415 555 2671;Acme;USA;CTO\n"
).encode("cp1251")


def upload_a_messy_file(page: Page) -> None:
    """A small cp1251, semicolon-separated contacts file with Russian headers: the mapping page."""
    page.get_by_label("CSV or XLSX file").set_input_files(
        files=[{"name": "contacts.csv", "mimeType": "text/csv", "buffer": MESSY_CSV}]
    )
    page.get_by_role("button", name="Upload and map columns").click()
    page.wait_for_load_state("networkidle")


def preview_a_messy_file(page: Page) -> None:
    """The dry run of that file, checked by the worker: counts, sample and rejected rows."""
    upload_a_messy_file(page)
    page.get_by_role("button", name="Check the file (nothing is saved yet)").click()
    page.get_by_role("heading", name="Preview — nothing has been saved yet").wait_for(timeout=90_000)
    page.wait_for_load_state("networkidle")


def import_a_messy_file(page: Page) -> None:
    """The same file imported: the result page with the rejected rows to download."""
    preview_a_messy_file(page)
    # "Import with these choices" when the matcher found a row that may already be a contact.
    page.get_by_role("button", name=re.compile(r"^Import (1 record|with these choices)$")).click()
    page.get_by_role("heading", name="Result").wait_for(timeout=90_000)
    page.wait_for_load_state("networkidle")


def submit_a_broken_company(page: Page) -> None:
    """The company form saved without a name and with a bad website: the errors a user sees."""
    page.get_by_label("Website or domain").fill("not a website")
    page.get_by_role("button", name="Create company").click()
    page.wait_for_load_state("networkidle")


# (file name, user, path, viewport width, optional step before the screenshot)
PAGES: list[tuple[str, str | None, str, int, Callable[[Page], None] | None]] = [
    ("01-login", None, "/accounts/login/", DESKTOP, None),
    ("02-my-day", "alice", "/", DESKTOP, None),
    ("03-companies", "alice", "/companies/", DESKTOP, None),
    ("04-company-360", "alice", "/companies/{company}/", DESKTOP, None),
    ("05-contacts", "alice", "/contacts/", DESKTOP, None),
    ("06-contact-360", "alice", "/contacts/{contact}/", DESKTOP, None),
    ("07-company-form-errors", "alice", "/companies/new/", DESKTOP, submit_a_broken_company),
    ("08-deals", "alice", "/deals/", DESKTOP, None),
    ("09-kanban", "manager", "/deals/board/", DESKTOP, None),
    ("10-deal", "alice", "/deals/{deal}/", DESKTOP, None),
    ("11-activities", "alice", "/activities/", DESKTOP, None),
    ("12-log-activity", "alice", "/activities/log/?type=meeting", DESKTOP, None),
    ("13-calendar-month", "alice", "/activities/calendar/", DESKTOP, None),
    ("14-calendar-week", "alice", "/activities/calendar/?view=week", DESKTOP, None),
    ("15-reports", "manager", "/reports/", DESKTOP, None),
    ("16-funnel", "manager", "/reports/funnel/", DESKTOP, None),
    ("17-forecast", "manager", "/reports/forecast/", DESKTOP, None),
    ("18-forecast-accuracy", "manager", "/reports/forecast/accuracy/", DESKTOP, None),
    ("19-win-loss", "manager", "/reports/win-loss/", DESKTOP, None),
    ("20-velocity", "manager", "/reports/velocity/", DESKTOP, None),
    ("21-activity-report", "manager", "/reports/activity/", DESKTOP, None),
    ("22-notifications", "alice", "/notifications/", DESKTOP, None),
    ("23-admin", "admin", "/admin/", DESKTOP, None),
    ("24-my-day-phone", "alice", "/", PHONE, None),
    ("25-kanban-phone", "alice", "/deals/board/", PHONE, None),
    ("26-company-360-phone", "alice", "/companies/{company}/", PHONE, None),
    ("27-customer-segments", "manager", "/reports/customers/", DESKTOP, None),
    ("28-top-customers", "manager", "/reports/customers/top/", DESKTOP, None),
    ("29-retention-cohorts", "manager", "/reports/customers/cohorts/", DESKTOP, None),
    ("30-dormant-customers", "manager", "/reports/customers/dormant/", DESKTOP, None),
    ("31-cross-sell", "manager", "/reports/customers/cross-sell/", DESKTOP, None),
    ("32-top-customers-phone", "manager", "/reports/customers/top/", PHONE, None),
    ("33-company-value", "manager", "/companies/{company}/", DESKTOP, None),
    ("34-import-upload", "alice", "/imports/new/", DESKTOP, None),
    ("35-import-mapping", "alice", "/imports/new/", DESKTOP, upload_a_messy_file),
    ("36-import-preview", "alice", "/imports/new/", DESKTOP, preview_a_messy_file),
    ("37-import-result", "bob", "/imports/new/", DESKTOP, import_a_messy_file),
    ("38-duplicates", "manager", "/duplicates/", DESKTOP, None),
    ("41-data-quality", "manager", "/data-quality/", DESKTOP, None),
    ("42-profitability", "erin", "/reports/customers/profitability/", DESKTOP, None),
    ("43-company-profitability", "erin", "/companies/{whale}/", DESKTOP, None),
    ("44-deal-margin", "erin", "/deals/{whale_deal}/", DESKTOP, None),
]


# The gallery again in Russian and Chinese (the browser's Accept-Language), into
# docs/screenshots/ru/ and docs/screenshots/zh/: the pages without a scripted step.
LANGUAGES = [("ru", "ru-RU"), ("zh", "zh-CN")]


def _sign_in(page: Page, user: str) -> None:
    page.goto("/accounts/login/")
    page.locator("#id_username").fill(user)
    page.locator("#id_password").fill(DEMO_PASSWORD)
    page.locator(".crm-login .card form button[type=submit]").click()
    page.wait_for_load_state("networkidle")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    # GALLERY_PAGES=02-my-day,09-kanban writes only those (to check a change quickly).
    only = {name for name in os.environ.get("GALLERY_PAGES", "").split(",") if name}
    todo = [row for row in PAGES if not only or row[0] in only]
    # GALLERY_REDIS_DB / GALLERY_NAME keep two checkouts' galleries on one machine apart.
    redis_db = int(os.environ.get("GALLERY_REDIS_DB", "15"))
    stack_name = os.environ.get("GALLERY_NAME", "gallery")
    with (
        running_stack(name=stack_name, redis_db=redis_db, log_dir=ROOT / "var" / "gallery") as stack,
        sync_playwright() as pw,
    ):
        ids = json.loads(stack.manage("shell", "-c", RECORD_IDS).strip().splitlines()[-1])
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        pages: dict[tuple[str | None, int, str], Page] = {}
        runs = [("", "en-US", row) for row in todo]
        runs += [(lang, locale, row) for lang, locale in LANGUAGES for row in todo if row[4] is None]
        for lang, locale, (name, user, path, width, step) in runs:
            key = (user, width, locale)
            if key not in pages:
                height = 900 if width == DESKTOP else 844
                context = browser.new_context(
                    viewport={"width": width, "height": height}, base_url=stack.base_url, locale=locale
                )
                page = context.new_page()
                if user:
                    _sign_in(page, user)
                pages[key] = page
            page = pages[key]
            response = page.goto(path.format(**ids))
            if response is None or response.status == 404:
                print(f"skipped {name}: {path} is not served yet")
                continue
            page.wait_for_load_state("networkidle")
            if step is not None:
                step(page)
            folder = OUT / lang if lang else OUT
            folder.mkdir(exist_ok=True)
            target = folder / f"{name}.png"
            # The viewport, not the whole page: what a user sees first, and small files.
            page.screenshot(path=str(target))
            print(target.relative_to(ROOT))
        browser.close()


if __name__ == "__main__":
    main()
