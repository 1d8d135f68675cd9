"""Reading import files and turning their rows into clean field values.

Everything here is pure (no writes): reading CSV/XLSX bytes with their encoding and
delimiter detected, guessing which column is which from English and Russian headers, and
validating one row into the values a company or contact would be saved with — or the reason
the row is rejected. ``contacts.import_services`` matches the rows against the database and
writes them.
"""

from __future__ import annotations

import csv
import functools
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.template.defaultfilters import filesizeformat
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from contacts.models import Company, CompanySize, Contact, ImportKind, LifecycleStage, Source
from contacts.normalize import (
    DateTextError,
    birth_date_problem,
    country_code,
    domain_from_website,
    normalize_email,
    normalize_phone,
    normalize_postcode,
    parse_date_text,
)
from crm import custom_fields
from crm.exports import unescape_cell
from crm.params import int_or_none

IGNORE = ""  # the mapping value of a column that is not imported


class ImportFileError(ValueError):
    """The file cannot be read as a table; the message is shown on the upload form."""


# --- Reading files ------------------------------------------------------------------------


@dataclass
class Table:
    headers: list[str]
    rows: Iterator[tuple[int, list[str]]]  # (line number in the file, cells)
    encoding: str = ""
    delimiter: str = ""


_WORD = re.compile(r"[^\W\d_]+")
_PROPER_RUSSIAN_WORD = re.compile(r"^(?:[А-ЯЁ]?[а-яё]+|[А-ЯЁ]+)$")
_LATIN_WORD = re.compile(r"^[A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f]+$")
_PROPER_LATIN_WORD = re.compile(
    r"^(?:[A-Z\u00c0-\u00d6\u00d8-\u00de\u0100-\u024f]?[a-z\u00df-\u00f6\u00f8-\u00ff\u0100-\u024f]+"
    r"|[A-Z\u00c0-\u00d6\u00d8-\u00de\u0100-\u024f]+)$"
)

# The encodings a file that is not UTF-8 is most likely in, most likely first: Western and
# Russian Windows code pages, Russian KOI8-R, Chinese GBK/GB18030, Central European and
# DOS Russian. When two read equally well, the earlier one wins (a cp1252 "Lefèvre" also
# reads as a cp1250 "Lefčvre").
LIKELY_ENCODINGS = ("cp1252", "cp1251", "koi8_r", "gb18030", "cp1250", "cp866")
# What the user may choose on the mapping page when the guess is wrong.
ENCODING_CHOICES = (
    ("utf-8", "UTF-8"),
    ("cp1252", gettext_lazy("Windows-1252 (Western European)")),
    ("cp1251", gettext_lazy("Windows-1251 (Cyrillic)")),
    ("koi8_r", gettext_lazy("KOI8-R (Russian)")),
    ("gb18030", gettext_lazy("GB18030 / GBK (Chinese)")),
    ("cp1250", gettext_lazy("Windows-1250 (Central European)")),
    ("cp866", gettext_lazy("DOS 866 (Cyrillic)")),
    ("big5", gettext_lazy("Big5 (Traditional Chinese)")),
    ("shift_jis", gettext_lazy("Shift JIS (Japanese)")),
    ("utf-16", "UTF-16"),
    ("iso8859_15", gettext_lazy("ISO 8859-15 (Western European)")),
)
ENCODING_NAMES = dict(ENCODING_CHOICES) | {"utf-8-sig": "UTF-8"}


def _letters_score(text: str) -> float:
    """How much ``text`` reads like real words: the share of its non-ASCII characters that sit
    in plausible words — Latin words with a few accented letters in a normal case ("Lefèvre",
    "Müller"), Cyrillic words in a normal case ("Иван", "ООО") — or are common Chinese
    characters. A wrong code page gives mixed scripts ("Lefиvre"), words made only of accented
    letters ("Èâàí": Russian read as cp1252), inverted case ("иВАН": KOI8-R read as cp1251),
    symbols, or rare characters."""
    non_ascii = sum(1 for ch in text if ord(ch) > 127)
    if not non_ascii:
        return 0.0
    good = 0.0
    for word in _WORD.findall(text):
        accented = sum(1 for ch in word if ord(ch) > 127)
        if not accented:
            continue
        latin = _LATIN_WORD.match(word) and _PROPER_LATIN_WORD.match(word) and accented * 2 <= len(word)
        if latin or _PROPER_RUSSIAN_WORD.match(word):
            good += accented
        else:
            good += _common_chinese(word)
    return min(1.0, good / non_ascii)


def _common_chinese(word: str) -> float:
    """How many characters of ``word`` are among GB2312's 3,755 common (level 1) characters.
    Russian cp1251 bytes read as GBK come out as rare characters."""
    common = 0.0
    for ch in word:
        if ord(ch) < 0x2E80:
            continue
        try:
            encoded = ch.encode("gb2312")
        except UnicodeEncodeError:
            continue
        if len(encoded) == 2 and 0xB0 <= encoded[0] <= 0xD7:
            common += 1
    return common


def _gbk_score(text: str) -> float:
    """How much ``text`` looks like Chinese: the share of non-ASCII characters that are among
    GB2312's common characters (full-width punctuation counts half)."""
    non_ascii = [ch for ch in text if ord(ch) > 127]
    if not non_ascii:
        return 0.0
    common = 0.0
    for ch in non_ascii:
        try:
            encoded = ch.encode("gb2312")
        except UnicodeEncodeError:
            continue
        if len(encoded) == 2 and 0xB0 <= encoded[0] <= 0xD7:
            common += 1
        elif len(encoded) == 2 and 0xA1 <= encoded[0] <= 0xA9:
            common += 0.5  # full-width punctuation and symbols: plausible, not proof
    return common / len(non_ascii)


def _decode_sample(sample: bytes, encoding: str) -> str | None:
    # The sample may end in the middle of a character of up to four bytes.
    for cut in range(4):
        try:
            return sample[: len(sample) - cut].decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


def detect_encoding(data: bytes) -> str:
    """The encoding of a CSV file: UTF-8 (with or without BOM) or UTF-16 by their marks, else
    the likely encoding (``LIKELY_ENCODINGS``) whose decoding reads best, else what
    charset-normalizer finds, else cp1252.

    charset-normalizer alone mislabels short files (a 3-line cp1251 file may come back as
    another Cyrillic or a CJK code page, Windows-1252 as Windows-1250, KOI8-R as a Thai code
    page), so the encodings this CRM's users send most are scored first.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    sample = data[:200_000]
    # Scoring reads the first 64 KB: thousands of words, and a fifth of the time.
    best, best_score = "", 0.0
    for encoding in LIKELY_ENCODINGS:
        text = _decode_sample(sample[:65_536], encoding)
        if text is None:
            continue
        score = _letters_score(text)
        if encoding == "gb18030":
            score = max(score, _gbk_score(text))
        if score > best_score:  # ties keep the earlier, likelier encoding
            best, best_score = encoding, score
        if best_score >= 1.0:
            break  # a later encoding could only tie, and ties keep this one
    if best and best_score >= 0.5:
        return best
    from charset_normalizer import from_bytes

    match = from_bytes(sample).best()
    if match is not None:
        return match.encoding
    return "cp1252"


def detect_delimiter(text: str) -> str:
    """Comma, semicolon or tab: what ``csv.Sniffer`` finds in the first lines, else the one
    the header line has most of (Sniffer gives up on one-column or very ragged files)."""
    sample = "\n".join(line[:5_000] for line in text[:50_000].splitlines()[:30])
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t").delimiter
    except csv.Error:
        pass
    first = sample.split("\n", 1)[0]
    counts = {delimiter: first.count(delimiter) for delimiter in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


# --- What the uploaded bytes are: refused before anything is stored -----------------------

# Leading bytes of files people upload by mistake (or on purpose) instead of a table.
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", gettext_lazy("a PNG image")),
    (b"\xff\xd8\xff", gettext_lazy("a JPEG image")),
    (b"GIF87a", gettext_lazy("a GIF image")),
    (b"GIF89a", gettext_lazy("a GIF image")),
    (b"%PDF-", gettext_lazy("a PDF document")),
    (b"\x1f\x8b", gettext_lazy("a gzip archive")),
    (b"Rar!", gettext_lazy("a RAR archive")),
    (b"7z\xbc\xaf\x27\x1c", gettext_lazy("a 7-Zip archive")),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", gettext_lazy("an old Excel (.xls) or Word file")),
    (b"MZ", gettext_lazy("a program")),
    (b"\x7fELF", gettext_lazy("a program")),
)
_ZIP = b"PK\x03\x04"
# Control characters a text table never holds (tab, line breaks and form feed are fine).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def sniff_upload(data: bytes, file_name: str) -> str:
    """``"xlsx"`` or ``"csv"``: what the bytes are, whatever the file is called.

    Raises ``ImportFileError`` for a file that is not a table: an image, an archive, a
    program, an old .xls, a "CSV" with NUL bytes or control characters, a damaged workbook,
    or one whose unpacked size is too large (a zip bomb).
    """
    if data.startswith(_ZIP):
        check_workbook_size(data)
        return "xlsx"
    if file_name.lower().endswith((".xlsx", ".xlsm")):
        raise ImportFileError(_("The file is called .xlsx but is not an Excel workbook."))
    for signature, what in _SIGNATURES:
        if data.startswith(signature):
            raise ImportFileError(
                _("This file is %(what)s, not a CSV or XLSX table. Upload a .csv or .xlsx file.") % {"what": what}
            )
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "csv"  # UTF-16: NUL bytes are part of the encoding; its text is checked when read
    nul = data.find(b"\x00")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise ImportFileError(
            _(
                "The file holds binary data (a NUL byte on line %(line)d), so it is not a CSV file. "
                "Export it again from your spreadsheet as CSV or XLSX."
            )
            % {"line": line}
        )
    head = data[:65_536].decode("latin-1")
    if len(_CONTROL.findall(head)) > max(8, len(head) // 100):
        raise ImportFileError(
            _("The file holds binary data, not text, so it is not a CSV file. Upload a .csv or .xlsx file.")
        )
    return "csv"


def check_workbook_size(data: bytes) -> None:
    """Refuse a workbook whose members unpack to too much, before openpyxl opens it.

    The sizes come from the zip's central directory. Python's zipfile never unpacks a member
    past its declared size (a member that lies fails its CRC check instead), so the declared
    sizes bound what reading the workbook can cost.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError):
        raise ImportFileError(_("The file is not a readable XLSX workbook (a damaged zip archive).")) from None
    limit = settings.IMPORT_MAX_UNPACKED_BYTES
    ratio = settings.IMPORT_MAX_COMPRESSION_RATIO
    total = 0
    for member in members:
        total += member.file_size
        packed = max(member.compress_size, 1)
        if member.file_size > 1024 * 1024 and member.file_size > ratio * packed:
            raise ImportFileError(
                ngettext(
                    "The workbook is packed suspiciously tightly (%(name)s unpacks %(ratio)d time larger); "
                    "it is refused. Save it again from your spreadsheet, or as CSV.",
                    "The workbook is packed suspiciously tightly (%(name)s unpacks %(ratio)d times larger); "
                    "it is refused. Save it again from your spreadsheet, or as CSV.",
                    member.file_size // packed,
                )
                % {"name": member.filename[:80], "ratio": member.file_size // packed}
            )
    if len(members) > 10_000 or total > limit:
        raise ImportFileError(
            _(
                "The workbook unpacks to %(size)s; the most that can be imported is %(limit)s. "
                "Split it, or save it as CSV."
            )
            % {"size": filesizeformat(total), "limit": filesizeformat(limit)}
        )


def _clean_cells(cells: list[Any], line: int) -> list[str]:
    values = [_cell_text(cell) for cell in cells]
    limit = settings.IMPORT_MAX_CELL_CHARS
    for value in values:
        if len(value) > limit:
            raise ImportFileError(
                _("Line %(line)d has a cell of %(length)s characters; a cell may hold at most %(max)s.")
                % {"line": line, "length": f"{len(value):,}", "max": f"{limit:,}"}
            )
        if "\x00" in value:
            raise ImportFileError(
                _("Line %(line)d holds a NUL character, which is not text. Remove it and upload the file again.")
                % {"line": line}
            )
    return values


def _check_width(headers: list[str]) -> None:
    limit = settings.IMPORT_MAX_COLUMNS
    if len(headers) > limit:
        raise ImportFileError(
            ngettext(
                "The file has %(count)s column; at most %(max)s can be imported. Remove the columns you do not need.",
                "The file has %(count)s columns; at most %(max)s can be imported. Remove the columns you do not need.",
                len(headers),
            )
            % {"count": f"{len(headers):,}", "max": limit}
        )


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # phone numbers and ids typed into Excel come back as floats
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return unescape_cell(str(value).strip())


def read_table(data: bytes, file_name: str, *, encoding: str = "") -> Table:
    """The header and rows of an uploaded CSV or XLSX file (rows are read lazily).

    ``encoding`` overrides the detected one for a CSV file (the user's choice). The file name
    only serves as a hint: what the bytes are decides (``sniff_upload``)."""
    if sniff_upload(data, file_name) == "xlsx":
        return _read_xlsx(data)
    return _read_csv(data, encoding=encoding)


def _physical_lines(text: str) -> Iterator[str]:
    """The file's lines for ``csv.reader``, refusing one too long to be a row of a table
    before the CSV parser splits it into (possibly) millions of cells."""
    limit = settings.IMPORT_MAX_COLUMNS * 1000 + settings.IMPORT_MAX_CELL_CHARS
    for number, line in enumerate(io.StringIO(text, newline=""), start=1):
        if len(line) > limit:
            raise ImportFileError(
                _("Line %(line)d is %(length)s characters long; a row may be at most %(max)s.")
                % {"line": number, "length": f"{len(line):,}", "max": f"{limit:,}"}
            )
        yield line


def _read_csv(data: bytes, *, encoding: str = "") -> Table:
    encoding = encoding if encoding and encoding in ENCODING_NAMES else detect_encoding(data)
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        text = data.decode(encoding, errors="replace")
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise ImportFileError(_("The file is empty."))
    if "\x00" in text:
        raise ImportFileError(_("The file holds NUL characters, so it is not a CSV file."))
    delimiter = detect_delimiter(text)
    reader = csv.reader(_physical_lines(text), delimiter=delimiter)
    try:
        headers = _clean_cells(next(reader), 1)
    except csv.Error as exc:
        raise ImportFileError(_("The file is not a readable CSV file: %(error)s") % {"error": exc}) from None
    _check_width(headers)
    width = len(headers)

    def rows() -> Iterator[tuple[int, list[str]]]:
        try:
            for cells in reader:
                # Cells past the header have no column to go to (and no limit otherwise).
                cells = cells[:width]
                if any(cell.strip() for cell in cells):
                    yield reader.line_num, _clean_cells(cells, reader.line_num)
        except csv.Error as exc:
            raise ImportFileError(
                _("Line %(line)d is not valid CSV: %(error)s") % {"line": reader.line_num, "error": exc}
            ) from None

    return Table(headers=headers, rows=rows(), encoding=encoding, delimiter=delimiter)


def _read_xlsx(data: bytes) -> Table:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        sheet = workbook.worksheets[0]
    except Exception as exc:  # noqa: BLE001 (openpyxl raises many types for a damaged or foreign file)
        raise ImportFileError(_("The file is not a readable XLSX workbook (%(error)s).") % {"error": exc}) from None
    # One column more than allowed: enough to tell a too-wide sheet, never a million cells a row.
    iterator = sheet.iter_rows(values_only=True, max_col=settings.IMPORT_MAX_COLUMNS + 1)
    headers: list[str] = []
    header_line = 0
    try:
        for header_line, cells in enumerate(iterator, start=1):
            if any(cell not in (None, "") for cell in cells):
                headers = _clean_cells(list(cells), header_line)
                break
        while headers and not headers[-1]:
            headers.pop()
        if not headers:
            raise ImportFileError(_("The file is empty."))
        _check_width(headers)
    except ImportFileError:
        workbook.close()
        raise
    except Exception as exc:  # noqa: BLE001 (a damaged sheet fails while it is read)
        workbook.close()
        raise ImportFileError(_("The file is not a readable XLSX workbook (%(error)s).") % {"error": exc}) from None

    def rows() -> Iterator[tuple[int, list[str]]]:
        try:
            for line, cells in enumerate(iterator, start=header_line + 1):
                values = _clean_cells(list(cells)[: len(headers)], line)
                if any(values):
                    yield line, values
        finally:
            workbook.close()

    return Table(headers=headers, rows=rows(), encoding="", delimiter="")


# --- Target fields and header guessing ----------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A field a column can be imported into, with the header names it is recognised by."""

    name: str
    label: Any
    synonyms: tuple[str, ...]


def header_key(text: str) -> str:
    """``" E-mail "`` → ``"email"``; ``"Ф.И.О."`` → ``"фио"``: case, spaces and punctuation
    do not matter when a header is recognised."""
    return re.sub(r"[\W_]+", "", text.lower().replace("ё", "е"))


_EMAIL = ("email", "e-mail", "email address", "e-mail address", "mail", "почта", "эл. почта", "электронная почта",
          "адрес электронной почты", "e-mail адрес", "емейл", "имейл", "электронный адрес",
          "邮箱", "电子邮件")  # fmt: skip
_PHONE = ("phone", "phone number", "telephone", "tel", "tel.", "work phone", "office phone", "business phone",
          "телефон", "тел", "тел.", "рабочий телефон", "номер телефона", "контактный телефон",
          "电话", "手机")  # fmt: skip
_COUNTRY = ("country", "country code", "country name", "страна", "код страны", "国家")
_OWNER = ("owner", "account owner", "contact owner", "assigned to", "responsible", "sales rep", "ответственный",
          "владелец", "менеджер", "ответственный менеджер")  # fmt: skip
_STAGE = ("lifecycle stage", "stage", "lifecycle", "стадия", "этап", "стадия жизненного цикла")
_SOURCE = ("source", "lead source", "источник", "источник лида")
_TAGS = ("tags", "tag", "labels", "теги", "тег", "метки")
_EXTERNAL = ("external id", "external_id", "ext id", "id", "record id", "crm id", "внешний id", "внешний идентификатор",
             "идентификатор", "код", "id записи")  # fmt: skip
_WEBSITE = ("website", "web site", "site", "web", "url", "domain", "homepage", "company website", "company domain",
            "сайт", "веб-сайт", "домен", "адрес сайта", "сайт компании")  # fmt: skip

_STREET = ("street", "address", "street address", "address line 1", "address 1", "address1", "street 1",
           "mailing address", "postal address", "адрес", "улица", "почтовый адрес", "адрес 1",
           "地址", "街道")  # fmt: skip
_STREET2 = ("address line 2", "address 2", "address2", "street 2", "street2", "apartment", "suite", "apt",
            "адрес 2", "адрес строка 2", "квартира", "офис")  # fmt: skip
_CITY = ("city", "town", "locality", "город", "населенный пункт", "нас. пункт", "城市", "市")
_REGION = ("region", "state", "province", "county", "state/province", "state province", "регион", "область", "край",
           "республика", "субъект рф", "省", "州", "地区")  # fmt: skip
_POSTCODE = ("postcode", "postal code", "post code", "zip", "zip code", "zipcode", "postal", "индекс",
             "почтовый индекс", "邮编", "邮政编码")  # fmt: skip

CONTACT_TARGETS: tuple[Target, ...] = (
    Target("first_name", gettext_lazy("First name"), ("first name", "firstname", "given name", "first", "имя", "名")),
    Target(
        "last_name", gettext_lazy("Last name"), ("last name", "lastname", "surname", "family name", "фамилия", "姓")
    ),
    Target(
        "full_name",
        gettext_lazy("Full name (split into first and last)"),
        (
            "name",
            "full name",
            "contact",
            "contact name",
            "person",
            "фио",
            "ф.и.о.",
            "полное имя",
            "контакт",
            "контактное лицо",
            "имя и фамилия",
            "姓名",
            "联系人",
        ),
    ),  # fmt: skip
    Target("title", gettext_lazy("Job title"), ("title", "job title", "position", "job", "role", "должность", "职位")),
    Target("email", gettext_lazy("Email"), _EMAIL),
    Target(
        "secondary_email",
        gettext_lazy("Second email"),
        (
            "second email",
            "secondary email",
            "other email",
            "alternate email",
            "alternative email",
            "personal email",
            "email 2",
            "e-mail 2",
            "mail 2",
            "вторая почта",
            "дополнительная почта",
            "почта 2",
            "второй email",
            "второй e-mail",
            "личная почта",
            "邮箱2",
        ),
    ),  # fmt: skip
    Target("phone", gettext_lazy("Phone"), _PHONE),
    Target(
        "mobile",
        gettext_lazy("Mobile"),
        (
            "mobile",
            "mobile phone",
            "mobile number",
            "cell",
            "cell phone",
            "cellphone",
            "phone 2",
            "second phone",
            "other phone",
            "alternate phone",
            "мобильный",
            "мобильный телефон",
            "сотовый",
            "моб. телефон",
            "моб",
            "телефон 2",
            "второй телефон",
            "доп. телефон",
            "дополнительный телефон",
            "手机号",
            "移动电话",
        ),
    ),  # fmt: skip
    Target(
        "company",
        gettext_lazy("Company (name)"),
        (
            "company",
            "company name",
            "organization",
            "organisation",
            "account",
            "account name",
            "employer",
            "компания",
            "название компании",
            "организация",
            "фирма",
            "место работы",
            "公司",
            "公司名称",
        ),
    ),  # fmt: skip
    Target("company_domain", gettext_lazy("Company website"), _WEBSITE),
    Target("street", gettext_lazy("Street"), _STREET),
    Target("street2", gettext_lazy("Address line 2"), _STREET2),
    Target("city", gettext_lazy("City"), _CITY),
    Target("region", gettext_lazy("Region / state"), _REGION),
    Target("postcode", gettext_lazy("Postcode"), _POSTCODE),
    Target("country", gettext_lazy("Country"), _COUNTRY),
    Target(
        "birth_date",
        gettext_lazy("Birth date"),
        (
            "birth date",
            "birthdate",
            "date of birth",
            "dob",
            "d.o.b.",
            "birthday",
            "born",
            "дата рождения",
            "день рождения",
            "др",
            "д.р.",
            "出生日期",
            "生日",
        ),
    ),  # fmt: skip
    Target("owner", gettext_lazy("Owner (username or email)"), _OWNER),
    Target("lifecycle_stage", gettext_lazy("Lifecycle stage"), _STAGE),
    Target("source", gettext_lazy("Source"), _SOURCE),
    Target("tags", gettext_lazy("Tags (comma-separated)"), _TAGS),
    Target("external_id", gettext_lazy("External ID"), _EXTERNAL),
    Target("do_not_call", gettext_lazy("Do not call (yes/no)"), ("do not call", "dnc", "не звонить")),
    Target("do_not_email", gettext_lazy("Do not email (yes/no)"), ("do not email", "unsubscribed", "не писать")),
)
COMPANY_TARGETS: tuple[Target, ...] = (
    Target(
        "name",
        gettext_lazy("Name"),
        (
            "name",
            "company",
            "company name",
            "organization",
            "organisation",
            "account",
            "account name",
            "название",
            "компания",
            "наименование",
            "название компании",
            "организация",
        ),
    ),  # fmt: skip
    Target("domain", gettext_lazy("Website / domain"), _WEBSITE),
    Target("industry", gettext_lazy("Industry"), ("industry", "sector", "отрасль", "индустрия", "сфера")),
    Target(
        "size",
        gettext_lazy("Size (employees)"),
        (
            "size",
            "company size",
            "employees",
            "number of employees",
            "headcount",
            "размер",
            "сотрудников",
            "число сотрудников",
            "количество сотрудников",
        ),
    ),  # fmt: skip
    Target("phone", gettext_lazy("Phone"), _PHONE),
    Target("email", gettext_lazy("Email"), _EMAIL),
    Target("street", gettext_lazy("Street"), _STREET),
    Target("city", gettext_lazy("City"), _CITY),
    Target("postal_code", gettext_lazy("Postal code"), _POSTCODE),
    Target("region", gettext_lazy("Region"), _REGION),
    Target("country", gettext_lazy("Country"), _COUNTRY),
    Target("owner", gettext_lazy("Owner (username or email)"), _OWNER),
    Target("lifecycle_stage", gettext_lazy("Lifecycle stage"), _STAGE),
    Target("source", gettext_lazy("Source"), _SOURCE),
    Target("tags", gettext_lazy("Tags (comma-separated)"), _TAGS),
    Target("external_id", gettext_lazy("External ID"), _EXTERNAL),
)


def custom_targets(kind: str) -> tuple[Target, ...]:
    """The active custom fields of the kind's model, as targets ``cf_<key>`` recognised by their
    label and key (after the built-in fields: a "Region" column is the address region first)."""
    model = "contacts.company" if kind == ImportKind.COMPANIES else "contacts.contact"
    return tuple(
        Target(
            defn.form_name,
            gettext_lazy("%(label)s (custom field)") % {"label": defn.label},
            (defn.label, defn.key),
        )
        for defn in custom_fields.fields_for(model)
    )


def targets_for(kind: str) -> tuple[Target, ...]:
    builtin = COMPANY_TARGETS if kind == ImportKind.COMPANIES else CONTACT_TARGETS
    return builtin + custom_targets(kind)


def guess_mapping(headers: list[str], kind: str) -> dict[str, str]:
    """Column index (as a string, JSON keys) → target field name, from the header names.

    Each target takes at most one column (the first that names it); unknown headers are
    ignored until the user maps them.
    """
    # Every target a header may name, in order: a second "Region" column (as the export
    # writes a custom field labelled like a built-in one) goes to the next one.
    lookup: dict[str, list[str]] = {}
    for target in targets_for(kind):
        for synonym in (target.name, *target.synonyms):
            names = lookup.setdefault(header_key(synonym), [])
            if target.name not in names:
                names.append(target.name)
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for index, header in enumerate(headers):
        target = next((name for name in lookup.get(header_key(header), []) if name not in taken), IGNORE)
        if target:
            taken.add(target)
        mapping[str(index)] = target
    return mapping


class MappingError(ValueError):
    """A column mapping given by name (the command line) names no column or no field."""


def override_mapping(
    headers: list[str], mapping: dict[str, str], overrides: dict[str, str], kind: str
) -> dict[str, str]:
    """``mapping`` (as ``guess_mapping`` gives it) with columns named by their header mapped
    to the fields given: ``{"Zip": "postcode", "Notes": ""}`` (empty: not imported). A header
    is found as written, else as ``header_key`` compares headers; the field is a target's
    name or label. A field given here is taken away from any column the guess gave it to.

    Raises ``MappingError`` naming the unknown header or field and what there is instead.
    """
    targets = targets_for(kind)
    names = {target.name for target in targets}
    by_label = {header_key(str(target.label)): target.name for target in targets}
    result = dict(mapping)
    for header, wanted in overrides.items():
        index = next((i for i, h in enumerate(headers) if h == header), None)
        if index is None:
            index = next((i for i, h in enumerate(headers) if header_key(h) == header_key(header)), None)
        if index is None:
            raise MappingError(
                _("The file has no column “%(header)s”; its columns are: %(headers)s.")
                % {"header": header, "headers": ", ".join(headers)}
            )
        target = wanted.strip()
        if target in ("", "-"):
            target = IGNORE
        elif target not in names:
            target = by_label.get(header_key(target), "")
            if not target:
                raise MappingError(
                    _("“%(field)s” is not a field to import into; the fields are: %(fields)s.")
                    % {"field": wanted, "fields": ", ".join(sorted(names))}
                )
        if target:
            for other, taken in result.items():
                if taken == target and other != str(index):
                    result[other] = IGNORE
        result[str(index)] = target
    return result


def mapping_problems(mapping: dict[str, str], kind: str) -> list[str]:
    """What a mapping lacks before a file can be imported (the mapping page says the same)."""
    used = set(filter(None, mapping.values()))
    if kind == ImportKind.CONTACTS and not {"last_name", "full_name"} & used:
        return [_("Choose the column with the last name or the full name.")]
    if kind == ImportKind.COMPANIES and "name" not in used:
        return [_("Choose the column with the company name.")]
    return []


# --- Match keys and modes -----------------------------------------------------------------


class MatchMode:
    FILL = "fill"
    OVERWRITE = "overwrite"
    SKIP = "skip"
    CHOICES = (
        (FILL, gettext_lazy("Fill empty fields only")),
        (OVERWRITE, gettext_lazy("Overwrite with the file's values")),
        (SKIP, gettext_lazy("Skip (leave the record as it is)")),
    )


CONTACT_MATCH_KEYS = (
    ("email", gettext_lazy("Email")),
    ("phone", gettext_lazy("Phone (phone or mobile)")),
    ("external_id", gettext_lazy("External ID")),
)
COMPANY_MATCH_KEYS = (
    ("domain", gettext_lazy("Domain")),
    ("name", gettext_lazy("Name")),
    ("phone", gettext_lazy("Phone")),
    ("email", gettext_lazy("Email")),
    ("external_id", gettext_lazy("External ID")),
)


def match_keys_for(kind: str) -> tuple[tuple[str, Any], ...]:
    return COMPANY_MATCH_KEYS if kind == ImportKind.COMPANIES else CONTACT_MATCH_KEYS


# --- Value lookups ------------------------------------------------------------------------


@functools.cache
def _choice_lookup(choices_name: str) -> dict[str, str]:
    choices = {"stage": LifecycleStage.choices, "source": Source.choices}[choices_name]
    lookup: dict[str, str] = {}
    for language in ("en", "ru"):
        with translation.override(language):
            for value, label in choices:
                lookup[header_key(str(label))] = value
    for value, _label in choices:
        lookup[header_key(value)] = value
    if choices_name == "stage":
        lookup.update({"лид": "lead", "клиент": "customer", "бывшийклиент": "former_customer",
                       "потенциальныйклиент": "prospect", "проспект": "prospect", "formerclient": "former_customer",
                       "client": "customer"})  # fmt: skip
    else:
        lookup.update({"сайт": "website", "рекомендация": "referral", "мероприятие": "event",
                       "партнер": "partner", "web": "website", "импорт": "import", "другое": "other",
                       "холодныйзвонок": "outbound"})  # fmt: skip
    return lookup


def _size_choice(raw: str) -> str | None:
    text = raw.strip()
    if text in CompanySize.values:
        return text
    n = int_or_none(re.sub(r"[\s,.]", "", text))  # "²".isdigit() is true, int("²") fails
    if n is not None:
        for limit, value in ((10, "1-10"), (50, "11-50"), (200, "51-200"), (1000, "201-1000")):
            if n <= limit:
                return value
        return "1000+"
    compact = text.replace("–", "-").replace(" ", "")
    return compact if compact in CompanySize.values else None


_TRUE = {"1", "yes", "y", "true", "x", "да", "д", "+", "истина", "是"}
_FALSE = {"", "0", "no", "n", "false", "нет", "н", "-", "ложь", "否"}


def _flag(raw: str) -> bool | None:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    return None


def split_full_name(raw: str) -> tuple[str, str]:
    """ "Anna Petrova" → ("Anna", "Petrova"); "Petrova, Anna" → ("Anna", "Petrova");
    one word is a last name. A Russian "Фамилия Имя Отчество" keeps the order typed."""
    text = " ".join(raw.split())
    if "," in text:
        last, _sep, first = text.partition(",")
        return first.strip(), last.strip()
    parts = text.split(" ")
    if len(parts) == 1:
        return "", parts[0]
    return " ".join(parts[:-1]), parts[-1]


# --- One row ------------------------------------------------------------------------------


@dataclass
class RowValues:
    """A valid row: the model field values (normalised) plus what the service resolves."""

    line: int
    fields: dict[str, Any]
    tags: list[str] = field(default_factory=list)
    owner_ref: str = ""
    company_name: str = ""
    company_domain: str = ""
    phone_invalid: bool = False
    custom: dict[str, Any] = field(default_factory=dict)  # custom field key → stored value


class RowError(ValueError):
    pass


_MAX_LENGTHS = {
    ImportKind.CONTACTS: {f.name: f.max_length for f in Contact._meta.concrete_fields if f.max_length},
    ImportKind.COMPANIES: {f.name: f.max_length for f in Company._meta.concrete_fields if f.max_length},
}
_TEXT_FIELDS = {
    ImportKind.CONTACTS: ("first_name", "last_name", "title", "street", "street2", "city", "region", "external_id"),
    ImportKind.COMPANIES: ("name", "industry", "street", "city", "region", "external_id"),
}


def _email(raw: str, label: str) -> str:
    value = normalize_email(raw)
    if value:
        try:
            validate_email(value)
        except ValidationError:
            raise RowError(
                _("%(field)s “%(value)s” is not a valid email address.") % {"field": label, "value": raw}
            ) from None
        if len(value) > 254:
            raise RowError(_("%(field)s is longer than 254 characters.") % {"field": label})
    return value


def _birth_date(raw: str) -> date:
    try:
        value = parse_date_text(raw)
    except DateTextError as exc:
        raise RowError(_("Birth date: %(reason)s") % {"reason": exc}) from None
    problem = birth_date_problem(value)
    if problem:
        raise RowError(problem)
    return value


class _Problems:
    """Collects every reason a row is rejected, so the person fixing the file sees them all
    at once instead of one per upload: each ``with problems:`` block that raises ``RowError``
    adds its reason and the row's other checks go on. (A plain context manager class, not
    ``@contextmanager``: it runs a dozen times per row of a 100k-row import.)"""

    def __init__(self) -> None:
        self.reasons: list[str] = []

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> bool:
        if exc_type is RowError:
            self.reasons.append(str(exc))
            return True
        return False


def clean_row(
    kind: str, line: int, raw: dict[str, str], *, keep_invalid_phones: bool, company_countries: dict[str, str]
) -> RowValues:
    """Validate and normalise one row (``raw``: target name → cell text).

    Raises ``RowError`` with every reason the row cannot be imported, as a person reads them
    next to the line number. ``company_countries`` (lower-case company name → country code)
    lets a contact's local phone number be read in its company's country, as the contact form
    does.
    """
    problems = _Problems()
    fields: dict[str, Any] = {}
    limits = _MAX_LENGTHS[kind]
    for name in _TEXT_FIELDS[kind]:
        value = " ".join(raw.get(name, "").split())
        with problems:
            if value and len(value) > limits[name]:
                raise RowError(
                    _("%(field)s is longer than %(max)d characters.")
                    % {"field": _field_label(kind, name), "max": limits[name]}
                )
            if value:
                fields[name] = value
    row = RowValues(line=line, fields=fields)
    custom_raw = {
        name.removeprefix(custom_fields.FIELD_PREFIX): value
        for name, value in raw.items()
        if name.startswith(custom_fields.FIELD_PREFIX) and value.strip()
    }
    if custom_raw:
        model = "contacts.company" if kind == ImportKind.COMPANIES else "contacts.contact"
        with problems:
            try:
                # ``current={}``: only the mapped, non-empty cells are checked and kept.
                row.custom = custom_fields.clean_values(model, custom_raw, current={})
            except ValidationError as exc:
                labels = {d.key: d.label for d in custom_fields.fields_for(model)}
                raise RowError(
                    " ".join(
                        f"{labels.get(key, key)}: {' '.join(messages)}" for key, messages in exc.message_dict.items()
                    )
                ) from None

    if kind == ImportKind.CONTACTS:
        with problems:
            if raw.get("full_name") and not (fields.get("first_name") or fields.get("last_name")):
                first, last = split_full_name(raw["full_name"])
                if len(first) > limits["first_name"] or len(last) > limits["last_name"]:
                    raise RowError(_("The name is too long."))
                if first:
                    fields["first_name"] = first
                fields["last_name"] = last
            if not fields.get("last_name"):
                raise RowError(_("The contact has no last name."))
        for name in ("email", "secondary_email"):
            with problems:
                if raw.get(name):
                    fields[name] = _email(raw[name], _field_label(kind, name))
        row.company_name = " ".join(raw.get("company", "").split())[:200]
        with problems:
            if raw.get("company_domain"):
                try:
                    row.company_domain = domain_from_website(raw["company_domain"])
                except ValueError:
                    raise RowError(
                        _("Website “%(value)s” is not a website or domain.") % {"value": raw["company_domain"]}
                    ) from None
        for name in ("do_not_call", "do_not_email"):
            with problems:
                if name in raw:
                    flag = _flag(raw[name])
                    if flag is None:
                        raise RowError(
                            _("%(field)s must be yes or no, not “%(value)s”.")
                            % {"field": _field_label(kind, name), "value": raw[name]}
                        )
                    if flag:
                        fields[name] = True
        with problems:
            if raw.get("birth_date"):
                fields["birth_date"] = _birth_date(raw["birth_date"])
        phone_fields: tuple[str, ...] = ("phone", "mobile")
    else:
        with problems:
            if not fields.get("name"):
                raise RowError(_("The company has no name."))
        with problems:
            if raw.get("domain"):
                try:
                    fields["domain"] = domain_from_website(raw["domain"])
                except ValueError:
                    raise RowError(
                        _("Website “%(value)s” is not a website or domain.") % {"value": raw["domain"]}
                    ) from None
        with problems:
            if raw.get("email"):
                fields["email"] = _email(raw["email"], _field_label(kind, "email"))
        with problems:
            if raw.get("size"):
                size = _size_choice(raw["size"])
                if size is None:
                    raise RowError(_("Size “%(value)s” is not a number of employees.") % {"value": raw["size"]})
                fields["size"] = size
        phone_fields = ("phone",)

    postcode_field = "postcode" if kind == ImportKind.CONTACTS else "postal_code"
    with problems:
        if raw.get(postcode_field):
            postcode = normalize_postcode(raw[postcode_field])
            if len(postcode) > limits[postcode_field]:
                raise RowError(
                    _("%(field)s is longer than %(max)d characters.")
                    % {"field": _field_label(kind, postcode_field), "max": limits[postcode_field]}
                )
            fields[postcode_field] = postcode
    with problems:
        if raw.get("country"):
            code = country_code(raw["country"])
            if code is None:
                raise RowError(_("Country “%(value)s” is not a country name or code.") % {"value": raw["country"]})
            fields["country"] = code
    for name, lookup_name in (("lifecycle_stage", "stage"), ("source", "source")):
        with problems:
            if raw.get(name):
                value = _choice_lookup(lookup_name).get(header_key(raw[name]))
                if value is None:
                    raise RowError(
                        _("%(field)s “%(value)s” is not one of the CRM's values.")
                        % {"field": _field_label(kind, name), "value": raw[name]}
                    )
                fields[name] = value

    region = fields.get("country") or company_countries.get(row.company_name.lower()) or None
    for name in phone_fields:
        text = raw.get(name, "")
        if not text:
            continue
        with problems:
            result = normalize_phone(text, region)
            if not result.valid:
                if not keep_invalid_phones:
                    raise RowError(
                        _("%(field)s “%(value)s” is not a valid phone number for %(region)s.")
                        % {
                            "field": _field_label(kind, name),
                            "value": text,
                            "region": region or _("the default region"),
                        }
                    )
                row.phone_invalid = True
            if len(result.e164) > 40:
                raise RowError(_("%(field)s is longer than 40 characters.") % {"field": _field_label(kind, name)})
            fields[name] = result.e164

    if problems.reasons:
        raise RowError(" ".join(problems.reasons))
    if raw.get("tags"):
        row.tags = [" ".join(t.split())[:60] for t in re.split(r"[,;]", raw["tags"]) if t.strip()]
    row.owner_ref = raw.get("owner", "").strip()
    return row


@functools.cache
def _labels(kind: str) -> dict[str, Any]:
    return {target.name: target.label for target in targets_for(kind)}


def _field_label(kind: str, name: str) -> str:
    return str(_labels(kind).get(name, name))


def apply_mapping(mapping: dict[str, str], cells: list[str]) -> dict[str, str]:
    """Target name → cell text, for the mapped columns of one row."""
    raw: dict[str, str] = {}
    for index, target in mapping.items():
        if target:
            i = int(index)
            raw[target] = cells[i] if i < len(cells) else ""
    return raw
