"""Hostile and odd uploads: refused on the form with a clear reason before anything is stored,
never a 500, never a job stuck half-way. Every file is built here, in the test."""

import io
import struct
import time
import zipfile
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from openpyxl import Workbook

from contacts import import_services, tasks
from contacts.imports import ImportFileError, check_workbook_size, read_table
from contacts.models import ImportJob, ImportState


def post_file(client, data: bytes, name: str, kind: str = "contacts"):
    return client.post(
        reverse("contacts:import-new"),
        {"kind": kind, "file": SimpleUploadedFile(name, data, content_type="application/octet-stream")},
    )


def png_bytes() -> bytes:
    """A real 1×1 PNG."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + chunk(b"IEND", b"")
    )


def xlsx_bytes(rows: list[list[object]]) -> bytes:
    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def zip_bomb_xlsx(string_size: int) -> bytes:
    """A minimal workbook whose one shared string unpacks to ``string_size`` bytes, written
    in 1 MiB pieces so the test never holds it in memory."""
    buffer = io.BytesIO()
    parts = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
            'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/'
            'workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType='
            '"application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>'
        ),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
            '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
            '2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/'
            'spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
            '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
            '2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://'
            'schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'
            "</Relationships>"
        ),
        "xl/worksheets/sheet1.xml": (
            '<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
            'spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row></sheetData>'
            "</worksheet>"
        ),
    }
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
        with archive.open("xl/sharedStrings.xml", "w", force_zip64=False) as member:
            member.write(
                b'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/'
                b'spreadsheetml/2006/main" count="1" uniqueCount="1"><si><t>'
            )
            piece = b"A" * (1024 * 1024)
            for _ in range(string_size // len(piece)):
                member.write(piece)
            member.write(b"</t></si></sst>")
    return buffer.getvalue()


# --- Not a table at all -------------------------------------------------------------------


def test_a_png_renamed_csv_is_refused_on_the_form_and_nothing_is_stored(owner_client):
    response = post_file(owner_client, png_bytes(), "people.csv")

    assert response.status_code == 200
    assert "This file is a PNG image, not a CSV or XLSX table." in response.content.decode()
    assert not ImportJob.objects.exists()


def test_a_csv_with_a_nul_byte_in_an_early_row_is_refused_with_its_line(owner_client):
    data = b"Last name,Email\nPetrov,p@example.com\nIva\x00nov,i@example.com\n"

    response = post_file(owner_client, data, "people.csv")

    assert response.status_code == 200
    assert "a NUL byte on line 3" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_binary_noise_named_csv_is_refused(owner_client):
    noise = bytes(range(1, 32)) * 200

    response = post_file(owner_client, noise, "people.csv")

    assert "The file holds binary data, not text" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_a_csv_named_xlsx_is_refused(owner_client):
    response = post_file(owner_client, b"Last name\nPetrov\n", "people.xlsx")

    assert "The file is called .xlsx but is not an Excel workbook." in response.content.decode()
    assert not ImportJob.objects.exists()


def test_the_upload_form_still_checks_csrf(owner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)

    response = post_file(client, b"Last name\nPetrov\n", "people.csv")

    assert response.status_code == 403
    assert not ImportJob.objects.exists()


# --- Too big or too wide ------------------------------------------------------------------


def test_a_csv_with_100000_columns_is_refused_quickly(owner_client):
    data = ("," * 99_999 + "\n" + "x," * 99_999 + "x\n").encode()
    assert 0.2 * 1024 * 1024 < len(data) < 1024 * 1024

    started = time.monotonic()
    response = post_file(owner_client, data, "wide.csv")
    elapsed = time.monotonic() - started

    assert response.status_code == 200
    assert "The file has 100,000 columns; at most 200 can be imported." in response.content.decode()
    assert not ImportJob.objects.exists()
    assert elapsed < 5, f"refusing a wide file took {elapsed:.1f} s"


def test_extra_cells_past_the_header_are_dropped_not_kept(owner):
    data = ("Last name,Email\n" + "Petrov,p@example.com," + "x," * 50_000 + "\n").encode()

    job = import_services.import_upload(actor=owner, kind="contacts", file_name="ragged.csv", data=data)

    assert job.headers == ["Last name", "Email"]
    assert job.samples == [["Petrov"], ["p@example.com"]]


def test_a_line_too_long_to_be_a_row_is_refused_before_it_is_split(owner, settings):
    settings.IMPORT_MAX_COLUMNS = 10
    data = ("Last name\n" + "," * 30_000 + "\n").encode()

    with pytest.raises(ImportFileError, match="Line 2 is 30,001 characters long"):
        import_services.import_upload(actor=owner, kind="contacts", file_name="long.csv", data=data)


def test_a_cell_longer_than_the_limit_is_refused_with_its_line(owner_client):
    data = ("Last name,Notes\nPetrov," + "y" * 20_000 + "\n").encode()

    response = post_file(owner_client, data, "people.csv")

    assert "Line 2 has a cell of 20,000 characters; a cell may hold at most 10,000." in response.content.decode()
    assert not ImportJob.objects.exists()


def test_a_sheet_wider_than_the_limit_is_refused(owner_client):
    data = xlsx_bytes([[f"Column {i}" for i in range(300)], ["x"] * 300])

    response = post_file(owner_client, data, "wide.xlsx")

    # Only one column past the limit is ever read from each row.
    assert "The file has 201 columns; at most 200 can be imported." in response.content.decode()
    assert not ImportJob.objects.exists()


def test_an_xlsx_zip_bomb_is_refused_before_openpyxl_opens_it(owner_client):
    data = zip_bomb_xlsx(100 * 1024 * 1024)  # one 100 MiB shared string
    assert len(data) < 150 * 1024

    started = time.monotonic()
    response = post_file(owner_client, data, "bomb.xlsx")
    elapsed = time.monotonic() - started

    page = response.content.decode()
    assert response.status_code == 200
    assert "The workbook is packed suspiciously tightly (xl/sharedStrings.xml unpacks" in page
    assert not ImportJob.objects.exists()
    assert elapsed < 2, f"refusing the bomb took {elapsed:.1f} s"


def test_a_workbook_that_unpacks_past_the_limit_is_refused(settings):
    rows = [["Last name", "Notes"]] + [[f"Name {i}", f"note {i * 7919 % 100_003}"] for i in range(5_000)]
    data = xlsx_bytes(rows)
    settings.IMPORT_MAX_UNPACKED_BYTES = 64 * 1024

    with pytest.raises(ImportFileError, match="The workbook unpacks to"):
        check_workbook_size(data)
    settings.IMPORT_MAX_UNPACKED_BYTES = 100 * 1000 * 1000
    check_workbook_size(data)  # the same workbook under the default limit: fine
    assert read_table(data, "people.xlsx").headers == ["Last name", "Notes"]


def test_a_damaged_zip_is_a_clear_error(owner_client):
    response = post_file(owner_client, b"PK\x03\x04" + b"\x00" * 100, "broken.xlsx")

    assert "The file is not a readable XLSX workbook" in response.content.decode()
    assert not ImportJob.objects.exists()


# --- A job stored before these checks existed: it fails, it does not hang ----------------


def test_a_nul_in_an_early_row_ends_the_dry_run_failed_with_the_reason_on_the_page(
    owner, owner_client, django_capture_on_commit_callbacks
):
    data = b"Last name,Email\nPetrov,p@example.com\nIva\x00nov,i@example.com\n"
    job = ImportJob.objects.create(
        owner=owner,
        kind="contacts",
        file_name="old.csv",
        file_data=data,
        file_size=len(data),
        encoding="utf-8",
        delimiter=",",
        headers=["Last name", "Email"],
        samples=[["Petrov"], ["p@example.com"]],
        total_rows=2,
        mapping={"0": "last_name", "1": "email"},
        options={"match_key": "email", "mode": "fill", "keep_invalid_phones": False},
    )
    with django_capture_on_commit_callbacks(execute=False):
        import_services.import_configure(job=job, mapping=job.mapping, options=job.options)

    tasks.import_analyse(job.pk)

    job.refresh_from_db()
    assert job.state == ImportState.FAILED
    assert "NUL" in job.error
    page = owner_client.get(job.get_absolute_url()).content.decode()
    assert "The import failed." in page and "NUL" in page
    assert "Checking every row" not in page


# --- Encodings ------------------------------------------------------------------------------

WESTERN = "First name,Last name,Email\nJean,Lefèvre,jean@example.com\nJosé,García,jose@example.es\n"
RUSSIAN = "Имя;Фамилия;Почта\nИван;Петров;ivan@example.ru\nМария;Сидорова;maria@example.ru\n"


@pytest.mark.parametrize(
    ("text", "encoding", "expected", "word"),
    [
        (WESTERN, "cp1252", "cp1252", "Lefèvre"),
        (RUSSIAN, "koi8_r", "koi8_r", "Петров"),
        (RUSSIAN, "cp1251", "cp1251", "Петров"),
        ("姓名,邮箱\n张伟,zw@example.cn\n王芳,wf@example.cn\n", "gb18030", "gb18030", "张伟"),
    ],
)
def test_the_likely_encoding_is_guessed(owner, text, encoding, expected, word):
    job = import_services.import_upload(
        actor=owner, kind="contacts", file_name="people.csv", data=text.encode(encoding)
    )

    assert job.encoding == expected
    assert word in [value for column in job.samples for value in column]


def test_the_mapping_page_names_the_encoding_and_offers_to_change_it(owner, owner_client):
    job = import_services.import_upload(
        actor=owner, kind="contacts", file_name="people.csv", data=WESTERN.encode("cp1252")
    )

    page = owner_client.get(reverse("contacts:import-mapping", args=[job.pk])).content.decode()

    assert "Encoding Windows-1252 (Western European)" in page
    assert reverse("contacts:import-encoding", args=[job.pk]) in page
    assert '<option value="cp1250">' in page


def test_choosing_another_encoding_reads_the_file_again(owner, owner_client):
    job = import_services.import_upload(
        actor=owner, kind="contacts", file_name="people.csv", data=WESTERN.encode("cp1252")
    )

    response = owner_client.post(reverse("contacts:import-encoding", args=[job.pk]), {"encoding": "cp1250"})

    assert response.status_code == 302
    job.refresh_from_db()
    assert job.encoding == "cp1250" and job.state == ImportState.DRAFT
    assert "Lefčvre" in job.samples[1]  # what the user asked for, even when it is worse
    owner_client.post(reverse("contacts:import-encoding", args=[job.pk]), {"encoding": "cp1252"})
    job.refresh_from_db()
    assert "Lefèvre" in job.samples[1]


def test_the_dry_run_reads_the_file_in_the_chosen_encoding(owner, owner_client, django_capture_on_commit_callbacks):
    job = import_services.import_upload(
        actor=owner, kind="contacts", file_name="people.csv", data=RUSSIAN.encode("koi8_r")
    )
    owner_client.post(reverse("contacts:import-encoding", args=[job.pk]), {"encoding": "cp1251"})
    job.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=False):
        import_services.import_configure(job=job, mapping={"0": "first_name", "1": "last_name"}, options=job.options)

    tasks.import_analyse(job.pk)

    job.refresh_from_db()
    assert job.state == ImportState.PREVIEW
    names = " ".join(row["record"] for row in job.preview["creates"])
    # Read as cp1251, as chosen: the preview shows the garble, and the user switches back.
    assert "Петров".encode("koi8_r").decode("cp1251") in names and "Петров" not in names


def test_an_unknown_encoding_is_refused_and_changes_nothing(owner, owner_client):
    job = import_services.import_upload(
        actor=owner, kind="contacts", file_name="people.csv", data=WESTERN.encode("cp1252")
    )

    response = owner_client.post(reverse("contacts:import-encoding", args=[job.pk]), {"encoding": "rot13"})

    assert response.status_code == 302
    job.refresh_from_db()
    assert job.encoding == "cp1252"


@pytest.mark.parametrize(("who", "status"), [("teammate", 404), ("outsider", 404), ("manager", 404)])
def test_only_the_owner_may_change_the_encoding(client_for, owner, who, status):
    job = import_services.import_upload(
        actor=owner, kind="contacts", file_name="people.csv", data=WESTERN.encode("cp1252")
    )

    response = client_for(who).post(reverse("contacts:import-encoding", args=[job.pk]), {"encoding": "cp1250"})

    assert response.status_code == status
    job.refresh_from_db()
    assert job.encoding == "cp1252"


# --- File names -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kept"),
    [
        ("../../etc/passwd.csv", "passwd.csv"),
        ("C:\\Users\\x\\Desktop\\clients.csv", "clients.csv"),
        ('evil"\r\nSet-Cookie: a=b.csv', "evilSet-Cookie a=b.csv"),
        ("...hidden.csv", "hidden.csv"),
    ],
)
def test_an_uploaded_name_is_only_a_label(owner, owner_client, name, kept):
    job = import_services.import_upload(actor=owner, kind="contacts", file_name=name, data=b"Last name\nPetrov\n")

    assert job.file_name == kept
    response = owner_client.get(reverse("contacts:import-errors", args=[job.pk]))
    assert response.status_code == 200
    assert "\n" not in response["Content-Disposition"] and "Set-Cookie" not in response.headers
