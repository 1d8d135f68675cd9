"""Attachments: upload, checks on what a file is, access like the record, the timeline and
the data-quality count."""

from __future__ import annotations

import io
import zipfile
from typing import ClassVar

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.test import Client
from django.urls import reverse

from activities.models import TimelineEvent
from activities.tests.factories import ActivityFactory
from contacts.attachments import AttachmentSizeLimit, sniff
from contacts.models import Attachment, Company
from deals.tests.factories import DealFactory
from service.tests.factories import make_case

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture(autouse=True)
def private_storage(tmp_path, monkeypatch):
    """Files written by a test go to its own folder, not var/attachments."""
    storage = Attachment._meta.get_field("file").storage
    monkeypatch.setattr(storage, "_location", str(tmp_path))
    for name in ("base_location", "location"):
        storage.__dict__.pop(name, None)
    yield tmp_path
    for name in ("base_location", "location"):
        storage.__dict__.pop(name, None)


@pytest.fixture
def company(owner):
    return Company.objects.create(name="Acme", owner=owner)


def upload(client, kind, pk, name, content, content_type="application/octet-stream"):
    return client.post(
        reverse("contacts:attachment-upload", args=[kind, pk]),
        {"file": SimpleUploadedFile(name, content, content_type=content_type)},
    )


def test_owner_uploads_a_file_and_it_is_stored_under_a_random_name(owner_client, owner, company, private_storage):
    response = upload(owner_client, "company", company.pk, "price list.pdf", PDF, "application/pdf")
    assert response.status_code == 302
    attachment = Attachment.objects.get()
    assert attachment.target == company
    assert (attachment.name, attachment.mime_type, attachment.size) == ("price list.pdf", "application/pdf", len(PDF))
    assert attachment.uploaded_by == owner
    assert "price" not in attachment.file.name
    assert (private_storage / attachment.file.name).read_bytes() == PDF


def test_upload_is_on_the_timeline_with_a_link(owner_client, company):
    upload(owner_client, "company", company.pk, "logo.png", PNG)
    attachment = Attachment.objects.get()
    event = TimelineEvent.objects.get(kind="attachment")
    assert event.company_id == company.pk
    assert event.data["attachment_id"] == attachment.pk
    page = owner_client.get(company.get_absolute_url())
    assert reverse("contacts:attachment-view", args=[attachment.pk]) in page.content.decode()


def test_download_has_disposition_and_nosniff(owner_client, company):
    upload(owner_client, "company", company.pk, "Счёт №1.pdf", PDF)
    attachment = Attachment.objects.get()
    response = owner_client.get(reverse("contacts:attachment-download", args=[attachment.pk]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Disposition"].startswith("attachment;")
    assert "filename*=utf-8''" in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Type"] == "application/pdf"


def test_inline_preview_only_for_images_and_pdf(owner_client, company):
    upload(owner_client, "company", company.pk, "notes.txt", "Привет, мир".encode())
    upload(owner_client, "company", company.pk, "logo.png", PNG)
    text, image = Attachment.objects.order_by("id")
    assert owner_client.get(reverse("contacts:attachment-inline", args=[text.pk])).status_code == 404
    response = owner_client.get(reverse("contacts:attachment-inline", args=[image.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("inline;")
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    assert "default-src 'none'" in response["Content-Security-Policy"]
    page = owner_client.get(reverse("contacts:attachment-view", args=[image.pk]))
    assert f'src="{reverse("contacts:attachment-inline", args=[image.pk])}"' in page.content.decode()


def test_it_checks_ownership(owner_client, teammate_client, outsider_client, manager_client, company):
    upload(owner_client, "company", company.pk, "logo.png", PNG)
    attachment = Attachment.objects.get()
    for name in ("attachment-view", "attachment-download", "attachment-inline"):
        url = reverse(f"contacts:{name}", args=[attachment.pk])
        assert outsider_client.get(url).status_code == 404
        assert teammate_client.get(url).status_code == 200
        assert manager_client.get(url).status_code == 200
    # The teammate reads but does not change; the outsider learns nothing.
    assert upload(teammate_client, "company", company.pk, "x.png", PNG).status_code == 403
    assert upload(outsider_client, "company", company.pk, "x.png", PNG).status_code == 404
    remove = reverse("contacts:attachment-remove", args=[attachment.pk])
    assert teammate_client.post(remove).status_code == 403
    assert outsider_client.post(remove).status_code == 404
    assert Attachment.objects.count() == 1
    assert owner_client.post(remove).status_code == 302
    assert not Attachment.objects.exists()


@pytest.mark.parametrize(
    ("name", "content", "why"),
    [
        ("report.pdf", b"MZ\x90\x00" + b"\x00" * 100, "not a PDF"),
        ("invoice.pdf", b"<html><script>alert(1)</script></html>", "not a PDF"),
        ("notes.txt", b"<!DOCTYPE html><html><body>hi</body></html>", "not a TXT"),
        ("drawing.txt", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "not a TXT"),
        ("photo.png", b"\xff\xd8\xff\xe0 a jpeg really", "not a PNG"),
        ("page.html", b"<p>hello</p>", "not accepted"),
        ("logo.svg", b"<svg></svg>", "not accepted"),
        ("setup.exe", b"MZ\x90\x00", "not accepted"),
        ("archive.docx", b"PK\x03\x04 not really a zip", "not a DOCX"),
    ],
)
def test_bad_uploads_are_refused(owner_client, company, name, content, why):
    response = upload(owner_client, "company", company.pk, name, content)
    assert response.status_code == 302
    assert not Attachment.objects.exists()
    messages = [str(m) for m in response.wsgi_request._messages]
    assert any(why in m for m in messages), messages


def test_oversize_upload_is_refused(owner_client, company, settings):
    settings.ATTACHMENT_MAX_BYTES = 1024
    response = upload(owner_client, "company", company.pk, "big.pdf", PDF + b"0" * 2048)
    assert not Attachment.objects.exists()
    messages = [str(m) for m in response.wsgi_request._messages]
    assert messages == ["big.pdf: The file is larger than 1.0\xa0KB, the largest accepted."]


class ChunkSpy(FileUploadHandler):
    """Stands after the size limit in the handler chain: records what was passed on to it."""

    received: ClassVar[dict[str, int]] = {}

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        ChunkSpy.received[self.file_name] = 0

    def receive_data_chunk(self, raw_data, start):
        ChunkSpy.received[self.file_name] += len(raw_data)
        return raw_data

    def file_complete(self, file_size):
        return None


def test_an_oversize_file_is_refused_while_it_streams_and_nothing_is_kept(
    owner_client, company, settings, tmp_path, private_storage
):
    """A real multipart body: a 1 MB file over a 100 kB limit next to a small one. The big one
    is dropped once its running size passes the limit (the handlers after the limit never see
    more than that, and its temporary file is gone); the small one is attached."""
    settings.ATTACHMENT_MAX_BYTES = 100_000
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1024  # both files would go to temporary files
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "incoming")
    (tmp_path / "incoming").mkdir()
    settings.FILE_UPLOAD_HANDLERS = [
        "contacts.tests.test_attachments.ChunkSpy",
        "django.core.files.uploadhandler.MemoryFileUploadHandler",
        "django.core.files.uploadhandler.TemporaryFileUploadHandler",
    ]
    ChunkSpy.received.clear()
    big = SimpleUploadedFile("big.pdf", PDF + b"0" * 1_000_000, content_type="application/pdf")
    small = SimpleUploadedFile("small.png", PNG, content_type="image/png")
    response = owner_client.post(
        reverse("contacts:attachment-upload", args=["company", company.pk]), {"file": [big, small]}
    )

    assert response.status_code == 302
    assert ChunkSpy.received["big.pdf"] <= 100_000
    assert ChunkSpy.received["small.png"] == len(PNG)
    assert list((tmp_path / "incoming").iterdir()) == []
    assert list(Attachment.objects.values_list("name", flat=True)) == ["small.png"]
    stored = [p for p in private_storage.rglob("*") if p.is_file()]
    assert [p.read_bytes() for p in stored] == [PNG]
    messages = [str(m) for m in response.wsgi_request._messages]
    assert "big.pdf: The file is larger than 97.7\xa0KB, the largest accepted." in messages
    assert "1 file attached." in messages


def test_the_size_limit_passes_chunks_on_until_the_limit(settings):
    settings.ATTACHMENT_MAX_BYTES = 10
    limit = AttachmentSizeLimit()
    limit.new_file("file", "a/b.pdf", "application/pdf", None)
    assert limit.receive_data_chunk(b"x" * 6, 0) == b"x" * 6
    assert limit.receive_data_chunk(b"x" * 4, 6) == b"x" * 4
    with pytest.raises(SkipFile):
        limit.receive_data_chunk(b"x", 10)
    assert limit.refused == ["b.pdf"]


def test_the_upload_still_checks_csrf(owner, company):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    response = upload(client, "company", company.pk, "logo.png", PNG)
    assert response.status_code == 403
    assert not Attachment.objects.exists()


def test_office_documents_are_recognised():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
    assert sniff(buffer.getvalue()[:2048], buffer) == "ooxml"
    plain = io.BytesIO()
    with zipfile.ZipFile(plain, "w") as archive:
        archive.writestr("payload.exe", "MZ")
    assert sniff(plain.getvalue()[:2048], plain) is None


def test_deals_activities_and_cases_take_files(owner_client, owner, north, company):
    deal = DealFactory(owner=owner, company=company)
    activity = ActivityFactory(owner=owner, company=company)
    case = make_case(team=north, owner=owner, assignee=owner)
    for kind, record in (("deal", deal), ("activity", activity), ("case", case)):
        assert upload(owner_client, kind, record.pk, f"{kind}.png", PNG).status_code == 302
        page = owner_client.get(record.get_absolute_url())
        assert f"{kind}.png" in page.content.decode()
    assert Attachment.objects.count() == 3
    # Each reached a customer's timeline.
    assert TimelineEvent.objects.filter(kind="attachment", deal=deal).exists()
    assert TimelineEvent.objects.filter(kind="attachment", company=company).count() == 2
    assert TimelineEvent.objects.filter(kind="attachment", company=case.company).exists()


def test_outsider_cannot_attach_to_a_case_or_deal(outsider_client, owner, north, company):
    deal = DealFactory(owner=owner, company=company)
    case = make_case(team=north, owner=owner, assignee=owner)
    assert upload(outsider_client, "deal", deal.pk, "x.png", PNG).status_code == 404
    assert upload(outsider_client, "case", case.pk, "x.png", PNG).status_code == 404
    assert upload(outsider_client, "nonsense", 1, "x.png", PNG).status_code == 404


def test_deleting_the_record_deletes_its_files(owner_client, owner, private_storage):
    company = Company.objects.create(name="Gone", owner=owner)
    upload(owner_client, "company", company.pk, "logo.png", PNG)
    path = private_storage / Attachment.objects.get().file.name
    assert path.exists()
    from django.db import transaction

    with transaction.atomic():
        company.delete()
    assert not Attachment.objects.exists()


def test_company_page_query_count_does_not_grow_with_files(owner_client, company, django_assert_max_num_queries):
    upload(owner_client, "company", company.pk, "a.png", PNG)
    owner_client.get(company.get_absolute_url())
    # The company page's 9 (contacts/tests/test_company_views.py) and the files, in one query.
    for n in range(5):
        upload(owner_client, "company", company.pk, f"b{n}.png", PNG)
    with django_assert_max_num_queries(10):
        response = owner_client.get(company.get_absolute_url())
    assert response.content.decode().count("attachment-row") == 6


def test_data_quality_counts_records_with_files(owner_client, company):
    Company.objects.create(name="Bare", owner=company.owner)
    upload(owner_client, "company", company.pk, "a.png", PNG)
    response = owner_client.get(reverse("contacts:data-quality"))
    assert response.context["totals"].companies["with_files"] == 1
    assert response.context["totals"].companies["total"] == 2


def test_a_merge_moves_the_files_to_the_survivor_and_undo_moves_them_back(owner_client, owner, company):
    from contacts.merge import merge_undo, records_merge

    loser = Company.objects.create(name="Acme Ltd", owner=owner)
    upload(owner_client, "company", loser.pk, "contract.pdf", PDF)
    record = records_merge(actor=owner, survivor=company, loser=loser, choices={})
    attachment = Attachment.objects.get()
    assert attachment.object_id == company.pk
    merge_undo(actor=owner, record=record)
    attachment.refresh_from_db()
    assert attachment.object_id == loser.pk
