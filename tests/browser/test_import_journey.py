"""A rep imports a messy contacts file, fixes the rejected rows and imports them again."""

import csv
import io
import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import assert_every_field_has_a_label, login, unique

# The worker checks and imports in the background; the page polls until it is done.
WAIT = 90_000


def check_and_preview(page: Page, file_name: str, data: bytes) -> None:
    page.get_by_label("CSV or XLSX file").set_input_files(
        files=[{"name": file_name, "mimeType": "text/csv", "buffer": data}]
    )
    page.get_by_role("button", name="Upload and map columns").click()
    expect(page.get_by_role("heading", name="Map columns")).to_be_visible()
    assert_every_field_has_a_label(page)
    page.get_by_role("button", name=re.compile("Check the file")).click()
    expect(page.get_by_role("heading", name="Preview — nothing has been saved yet")).to_be_visible(timeout=WAIT)


def confirm_and_wait(page: Page) -> None:
    # "Import with these choices" when the preview lists likely duplicates to decide on.
    page.get_by_role("button", name=re.compile(r"^Import (\d+ records?|with these choices)")).click()
    expect(page.get_by_role("heading", name="Result")).to_be_visible(timeout=WAIT)


def test_a_rep_imports_a_messy_file_fixes_the_rejected_rows_and_imports_them_again(page: Page):
    login(page, "alice")
    slug = unique("x").split()[-1]
    messy = (
        "Имя;Фамилия;Почта;Телефон;Компания;Страна\n"
        f"Агафья;Пыжова{slug};AGAFYA.{slug}@example.ru;8 916 123-45-67;Ромашка {slug};Россия\n"
        f"Иван;;ivan.{slug}@example.ru;;Ромашка {slug};Россия\n"  # no last name
        f"John;Smith{slug};john.{slug}@example;+1 415 555 2671;;USA\n"  # broken email
        f"Mei;Wang{slug};mei.{slug}@example.cn;+86 138 0013 8000;;Китай\n"
    ).encode("cp1251")
    # Names unlike the demo's people: a likely duplicate would be left out by default.

    page.goto("/contacts/")
    page.get_by_role("link", name="Import").click()
    expect(page.get_by_role("heading", name="Import companies or contacts")).to_be_visible()
    assert_every_field_has_a_label(page)
    check_and_preview(page, "messy.csv", messy)
    expect(page.locator("#count-created")).to_have_text("2")
    expect(page.locator("#count-rejected")).to_have_text("2")
    rejected = page.locator(".import-errors")
    expect(rejected.get_by_role("row", name=re.compile(r"^3 The contact has no last name\."))).to_be_visible()
    expect(rejected.get_by_role("row", name=re.compile(r"^4 Email .* is not a valid email address\."))).to_be_visible()

    confirm_and_wait(page)
    expect(page.locator("#count-created")).to_have_text("2")
    with page.expect_download() as download_info:
        page.get_by_role("link", name=re.compile("Download rejected rows")).click()
    rows = list(csv.reader(io.StringIO(download_info.value.path().read_text(encoding="utf-8-sig"))))
    assert rows[0][-1] == "reason" and len(rows) == 3

    # Fix both rows, and keep one that was imported already: it must not come in twice.
    header, ivan, john = rows[0][:-1], rows[1][:-1], rows[2][:-1]
    ivan[1] = f"Иванов{slug}"
    john[2] = f"john.{slug}@example.com"
    anna = ["Агафья", f"Пыжова{slug}", f"agafya.{slug}@example.ru", "", f"Ромашка {slug}", "Россия"]
    fixed = io.StringIO()
    csv.writer(fixed).writerows([header, ivan, john, anna])

    page.get_by_role("link", name="New import").click()
    check_and_preview(page, "fixed.csv", fixed.getvalue().encode())
    expect(page.locator("#count-created")).to_have_text("2")
    expect(page.locator("#count-skipped")).to_have_text("1")
    expect(page.locator("#count-rejected")).to_have_text("0")
    confirm_and_wait(page)

    page.goto(f"/contacts/?q={slug}")
    table = page.locator("table.crm-list tbody")
    for name in (f"Агафья Пыжова{slug}", f"Иван Иванов{slug}", f"John Smith{slug}", f"Mei Wang{slug}"):
        expect(table.get_by_role("link", name=name, exact=True)).to_have_count(1)
    expect(table.get_by_role("row")).to_have_count(4)

    page.goto("/imports/")
    expect(page.get_by_role("link", name="fixed.csv")).to_be_visible()
    expect(page.get_by_role("link", name="messy.csv")).to_be_visible()
