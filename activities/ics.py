"""A minimal iCalendar (RFC 5545) writer for the personal calendar feed."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from activities.models import Activity

# Control characters other than TAB are not allowed in TEXT values (RFC 5545 3.3.11).
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LINE_BREAKS = re.compile(r"\r\n|\r|\n")


def _escape(text: str) -> str:
    """A TEXT value: backslash, ";" and "," escaped, every line break (CRLF, a lone CR or LF)
    written as ``\\n``, so no value can end its line and start a property of its own."""
    text = text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return _CONTROLS.sub("", _LINE_BREAKS.sub("\\\\n", text))


def _fold(line: str) -> str:
    """Lines longer than 75 octets continue on the next line after a space (RFC 5545 3.1)."""
    out, current = [], b""
    for char in line:
        encoded = char.encode()
        if len(current) + len(encoded) > 75:
            out.append(current.decode())
            current = b" "
        current += encoded
    out.append(current.decode())
    return "\r\n".join(out)


def _stamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def render_ics(activities: Iterable[Activity], *, site_url: str) -> str:
    now = _stamp(datetime.now(UTC))
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//CRM//Activities//EN",
        "CALSCALE:GREGORIAN",
        "X-WR-CALNAME:CRM",
    ]
    for activity in activities:
        if activity.due_at is None:
            continue
        end = activity.ends_at or activity.due_at + timedelta(minutes=activity.duration_minutes or 30)
        summary = f"{activity.type.label}: {activity.subject}"
        if activity.done_at:
            summary = f"✓ {summary}"
        lines += [
            "BEGIN:VEVENT",
            f"UID:activity-{activity.pk}@crm",
            f"DTSTAMP:{now}",
            f"DTSTART:{_stamp(activity.due_at)}",
            f"DTEND:{_stamp(end)}",
            f"SUMMARY:{_escape(summary)}",
            f"URL:{site_url}{activity.get_absolute_url()}",
        ]
        if activity.body:
            lines.append(f"DESCRIPTION:{_escape(activity.body)}")
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    return "\r\n".join(_fold(line) for line in lines) + "\r\n"
