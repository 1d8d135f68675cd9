"""A rep attaches a file to a company by drag and drop, opens and downloads it; someone of
another team gets "not found". A rep makes a quote from a deal's line items, downloads its
PDF, sends it by email and finds it on the deal's timeline."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import create_company, login, record_id, unique

# A 1×1 PNG.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc000000301010018dd8db00000000049454e44ae426082"
)


def drop_file(page: Page, selector: str, name: str, data: bytes, mime: str) -> None:
    """Drag a file from the desktop onto ``selector``, as a person would: once the page's
    scripts (deferred, so run before DOMContentLoaded) listen for it."""
    page.wait_for_load_state("domcontentloaded")
    page.locator(selector).first.wait_for()
    transfer = page.evaluate_handle(
        """([name, bytes, mime]) => {
            const transfer = new DataTransfer();
            transfer.items.add(new File([new Uint8Array(bytes)], name, {type: mime}));
            return transfer;
        }""",
        [name, list(data), mime],
    )
    page.dispatch_event(selector, "dragenter", {"dataTransfer": transfer})
    page.dispatch_event(selector, "drop", {"dataTransfer": transfer})


def test_an_owner_attaches_and_downloads_a_file_and_an_outsider_gets_404(page: Page, browser: Browser, stack):
    login(page, "alice")
    name = unique("Files Ltd")
    company_id = create_company(page, name)

    drop_file(page, "[data-attachment-drop]", "logo.png", PNG, "image/png")
    expect(page.get_by_text("1 file attached.")).to_be_visible()
    files = page.locator("#attachments")
    expect(files.get_by_role("link", name="logo.png", exact=True)).to_be_visible()
    # On the timeline too, linked to the file.
    expect(page.locator("section.timeline").get_by_text("File attached: logo.png").first).to_be_visible()

    # A web page renamed to .txt is refused with the reason, through the plain file input.
    page.get_by_label("Drop files here or choose them").set_input_files(
        files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"<html><script>alert(1)</script>"}]
    )
    expect(page.get_by_text(re.compile(r"notes\.txt: The file's content is not a TXT file"))).to_be_visible()

    files.get_by_role("link", name="logo.png", exact=True).click()
    expect(page.get_by_role("heading", name="logo.png")).to_be_visible()
    preview = page.get_by_role("img", name="logo.png")
    expect(preview).to_be_visible()
    # Visible is not loaded: wait until the browser is done with the image, then check it decoded.
    image = preview.element_handle()
    page.wait_for_function("(img) => img.complete", arg=image)
    assert page.evaluate("(img) => img.naturalWidth", image) == 1
    attachment_url = page.url
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download").click()
    download = download_info.value
    assert download.suggested_filename == "logo.png"
    assert download.path().read_bytes() == PNG

    # Carol works in another team: the file is not there for her, nor is its download. (A page
    # of her own: the 404s she is meant to get are not problems of this journey's page.)
    context = browser.new_context(base_url=stack.base_url)
    other = context.new_page()
    login(other, "carol")
    response = other.goto(attachment_url)
    assert response is not None and response.status == 404
    response = other.goto(f"{attachment_url}download/")
    assert response is not None and response.status == 404
    response = other.goto(f"/companies/{company_id}/")
    assert response is not None and response.status == 404
    context.close()


def test_a_rep_makes_a_quote_downloads_the_pdf_sends_it_and_finds_it_on_the_timeline(page: Page, stack):
    deal_id = int(
        stack.manage(
            "shell",
            "-v",
            "0",
            "-c",
            "from deals.models import Deal; print(Deal.objects.filter(owner__username='alice', status='open',"
            " line_items__isnull=False).order_by('id').values_list('id', flat=True).first())",
        ).split()[-1]
    )
    login(page, "alice")
    page.goto(f"/deals/{deal_id}/")
    page.get_by_role("button", name="Make a quote").click()
    heading = page.get_by_role("heading", name=re.compile(r"^Quote Q-\d{4}-\d{4}$"))
    expect(heading).to_be_visible()
    number = heading.inner_text().split()[-1]
    assert record_id(page)

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download PDF").click()
    pdf = download_info.value
    assert pdf.suggested_filename == f"{number}-v1.pdf"
    assert pdf.path().read_bytes().startswith(b"%PDF-")

    page.get_by_role("link", name="Edit (new version)").click()
    page.get_by_label(re.compile(r"^Tax % for")).first.fill("20")
    page.get_by_role("button", name="Save as a new version").click()
    expect(page.get_by_text("Version 2 saved.")).to_be_visible()

    page.locator("form.quote-send").get_by_role("textbox", name=re.compile(r"^To")).fill("buyer@customer.example")
    page.get_by_role("button", name="Send with PDF").click()
    # Queued in the request; the worker sends it and the Emails panel (polling) says so.
    expect(page.get_by_text("Version 2 is queued for sending to buyer@customer.example")).to_be_visible()
    expect(page.locator("#quote-emails .quote-email").first).to_contain_text("Sent ", timeout=30_000)
    page.reload()
    expect(page.locator(".quote-status")).to_have_text("Sent")

    mails = sorted((stack.log_dir / "var" / "mail").glob("*.log"))
    sent = [m.read_text(errors="replace") for m in mails]
    assert any(f'filename="{number}-v2.pdf"' in text and "buyer@customer.example" in text for text in sent)

    page.goto(f"/deals/{deal_id}/")
    expect(page.get_by_text(f"Quote {number} (version 2) sent to buyer@customer.example")).to_be_visible()
    expect(page.locator("#quotes").get_by_role("link", name=number, exact=True)).to_be_visible()
