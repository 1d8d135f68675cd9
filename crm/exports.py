"""CSV and XLSX downloads that are safe to open in a spreadsheet.

Every export in the CRM (lists, deals, report tables, import error files) is written to the
security log (who exported which file and how many rows: ``request`` is required) and goes
through ``safe_cell``: a text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return is run as a formula by Excel, LibreOffice and Google Sheets ("CSV injection"), so
it is prefixed with an apostrophe, which spreadsheets read as "this is text". Numbers and
dates are real values, never formulas, and stay as they are (a negative amount stays a
number). An XLSX cell has a type of its own: text is written as a string cell, which no
spreadsheet runs, so it needs no apostrophe and shows exactly what was stored.
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal

from django.http import FileResponse, HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header

from crm.models import SecurityEventKind
from crm.security import security_event_record

# A text cell starting with one of these is run as a formula by spreadsheet programs.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def safe_cell(value: object) -> object:
    """``value`` as a spreadsheet shows it without ever running it as a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float | Decimal | date | datetime):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def unescape_cell(text: str) -> str:
    """Undo ``safe_cell`` on a value read back from a file this CRM exported."""
    if text.startswith("'") and text[1:2] and text[1:2] in FORMULA_PREFIXES:
        return text[1:]
    return text


def _audited(rows: Iterable[Sequence[object]], *, request: HttpRequest, filename: str) -> Iterable[Sequence[object]]:
    """``rows``, counted; once they are all sent (or the download stops) the export is logged."""
    count, complete = 0, False
    try:
        for row in rows:
            count += 1
            yield row
        complete = True
    finally:
        security_event_record(
            kind=SecurityEventKind.EXPORT,
            request=request,
            detail={"file": filename, "path": request.path[:200], "rows": count, "complete": complete},
        )


class _Echo:
    """A file-like object whose ``write`` returns the line, so ``csv.writer`` can stream."""

    def write(self, value: str) -> str:
        return value


def _csv_lines(header: Sequence[object], rows: Iterable[Sequence[object]], *, bom: bool) -> Iterable[str]:
    writer = csv.writer(_Echo())
    if bom:
        # So Excel opens UTF-8 (Cyrillic, Chinese names) correctly; CSV readers skip it.
        yield "\ufeff"
    yield writer.writerow([safe_cell(str(cell)) for cell in header])
    for row in rows:
        yield writer.writerow([_csv_value(cell) for cell in row])


def _csv_value(value: object) -> object:
    cell = safe_cell(value)
    if isinstance(cell, datetime | date):
        return cell.isoformat()
    return cell


def csv_response(
    filename: str,
    header: Sequence[object],
    rows: Iterable[Sequence[object]],
    *,
    request: HttpRequest,
    bom: bool = False,
) -> HttpResponse:
    """A small CSV built in memory (report tables)."""
    rows = _audited(rows, request=request, filename=filename)
    response = HttpResponse(content_type=CSV_CONTENT_TYPE)
    response["Content-Disposition"] = content_disposition_header(True, filename)
    for line in _csv_lines(header, rows, bom=bom):
        response.write(line)
    return response


def csv_streaming_response(
    filename: str,
    header: Sequence[object],
    rows: Iterable[Sequence[object]],
    *,
    request: HttpRequest,
    bom: bool = True,
) -> StreamingHttpResponse:
    """A CSV sent row by row while ``rows`` is read, so a large list never sits in memory.

    Lists of people and companies start with a UTF-8 BOM (``bom``) for Excel's sake."""
    rows = _audited(rows, request=request, filename=filename)
    response = StreamingHttpResponse(_csv_lines(header, rows, bom=bom), content_type=CSV_CONTENT_TYPE)
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response


def xlsx_response(
    filename: str,
    header: Sequence[object],
    rows: Iterable[Sequence[object]],
    *,
    request: HttpRequest,
    title: str = "Export",
) -> FileResponse:
    """An XLSX workbook written with openpyxl's write-only mode (rows stream to a temporary
    file, not a tree in memory), then sent from that file."""
    rows = _audited(rows, request=request, filename=filename)
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])
    sheet.append(_xlsx_row(sheet, [str(cell) for cell in header]))
    for row in rows:
        sheet.append(_xlsx_row(sheet, row))
    handle = tempfile.TemporaryFile()  # noqa: SIM115 (FileResponse closes it once sent)
    workbook.save(handle)
    handle.seek(0)
    return FileResponse(handle, as_attachment=True, filename=filename, content_type=XLSX_CONTENT_TYPE)


def _xlsx_row(sheet: object, values: Sequence[object]) -> list[object]:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    cells: list[object] = []
    for value in values:
        value = _xlsx_value(value)
        if isinstance(value, str):
            # openpyxl makes "=…" a formula; a string cell is shown as typed and never run.
            # XML cannot hold most control characters, so they are dropped.
            cell = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", value))
            cell.data_type = "s"
            value = cell
        cells.append(value)
    return cells


def _xlsx_value(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None)  # Excel has no time zones; exported times are UTC
    if isinstance(value, int | float | Decimal | date | datetime):
        return value
    return str(value)
