"""Activity rows rendered in Python: My day's (done toggle, links, reschedule menu) and, at
the end, the activity list's table rows.

Each row is ~30 template lookups, two ``{% url %}``s, three ``{% csrf_token %}``s and three
``record_url`` calls; through ``{% include %}`` that was most of My day's server time on the
large dataset (bench/FINDINGS.md, "My day and home"). This writes the same markup with
f-strings, in the same way as ``contacts/templatetags/contact_lists.py``: every value is
escaped exactly as autoescaping would (``html.escape``, which ``django.utils.html.escape``
wraps), the links come from one reversed prefix per URL name, and the translated strings and
static parts are built once per call. The htmx toggle and reschedule responses render a row
through the same code (``activities/partials/activity_row.html``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django import template
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext, gettext_noop

from activities.models import Activity
from crm.html import DateText
from crm.html import escape as _e
from crm.html import escaped_url_around_id as _prefix

register = template.Library()


class _Page:
    """What every row of one call shares: URL prefixes, translated strings, the CSRF field,
    the static parts of the markup."""

    def __init__(self, context: template.Context) -> None:
        self.detail = _prefix("activities:detail")
        self.toggle = _prefix("activities:toggle-done")
        self.reschedule = _prefix("activities:reschedule")
        self.records = (
            ("company", _prefix("contacts:company-detail")),
            ("contact", _prefix("contacts:contact-detail")),
            ("deal", _prefix("deals:detail")),
        )
        now = context.get("now")
        self.now: datetime = now if isinstance(now, datetime) else timezone.now()
        self.tz = timezone.get_current_timezone()
        token = context.get("csrf_token")
        # As ``{% csrf_token %}`` renders it.
        csrf = (
            f'<input type="hidden" name="csrfmiddlewaretoken" value="{_e(token)}">'
            if token and token != "NOTPROVIDED"  # noqa: S105 (the request's CSRF token, not a password)
            else ""
        )
        self.dates = DateText()
        text = {key: _e(gettext(message)) for key, message in _MESSAGES.items()}
        self.types: dict[int, str] = {}
        # Each button says what it wants ("done" = 1 or 0), so a repeated or stale click is a
        # no-op instead of undoing the change someone else (or an earlier click) just made.
        self.toggle_form_end = {
            True: (
                f'{csrf}<input type="hidden" name="done" value="0">\n'
                f'<button type="submit" class="btn btn-sm btn-success" title="{text["reopen"]}">'
                f'<i class="bi bi-check-lg" aria-hidden="true"></i>'
                f'<span class="visually-hidden">{text["reopen"]}</span></button>\n</form>\n'
            ),
            False: (
                f'{csrf}<input type="hidden" name="done" value="1">\n'
                f'<button type="submit" class="btn btn-sm btn-outline-success" title="{text["mark_done"]}">'
                f'<i class="bi bi-check-lg" aria-hidden="true"></i>'
                f'<span class="visually-hidden">{text["mark_done"]}</span></button>\n</form>\n'
            ),
        }
        self.menu_start = (
            '<div class="dropdown">\n'
            '<button class="btn btn-sm btn-outline-secondary dropdown-toggle" type="button" '
            f'data-bs-toggle="dropdown" data-bs-auto-close="outside" aria-expanded="false" '
            f'aria-label="{text["reschedule"]}" title="{text["reschedule"]}">\n'
            '<i class="bi bi-calendar-event" aria-hidden="true"></i>'
            f'<span class="d-none d-md-inline"> {text["reschedule"]}</span>\n</button>\n'
            '<div class="dropdown-menu dropdown-menu-end p-2 reschedule-menu">\n'
        )
        self.shifts = (
            f'{csrf}\n<div class="d-grid gap-1 mb-2">\n'
            + "".join(
                f'<button class="btn btn-sm btn-light text-start" name="shift" value="{value}">{text[key]}</button>\n'
                for value, key in (("1h", "in_an_hour"), ("tomorrow", "tomorrow"), ("next_week", "next_week"))
            )
            + "</div>\n</form>\n"
        )
        self.csrf = csrf
        self.new_time = text["new_time"]
        self.set = text["set"]

    def type_icon(self, kind) -> str:
        icon = self.types.get(kind.pk)
        if icon is None:
            icon = self.types[kind.pk] = (
                f'<i class="bi {_e(kind.icon)}" style="color: {_e(kind.color)}" aria-hidden="true" '
                f'title="{_e(kind.label)}"></i>\n'
            )
        return icon

    def row(self, activity: Activity) -> str:
        pk = activity.pk
        done = activity.done_at is not None
        target = f'hx-target="#activity-row-{pk}" hx-swap="outerHTML"'
        toggle_url = f"{self.toggle[0]}{pk}{self.toggle[1]}"
        due_at = activity.due_at
        local_due = due_at.astimezone(self.tz) if due_at is not None else None
        meta = []
        if local_due is not None:
            late = "text-danger" if not done and due_at < self.now else ""
            meta.append(
                f'<span class="{late}"><i class="bi bi-clock" aria-hidden="true"></i> '
                f"{self.dates.day_time(local_due)}</span>"
            )
        for field, (head, tail) in self.records:
            record = getattr(activity, field)
            if record is not None:
                meta.append(f'· <a href="{head}{record.pk}{tail}">{_e(record)}</a>')
        meta_html = "\n".join(meta)
        row = (
            f'<li class="list-group-item activity-row{" is-done" if done else ""}" id="activity-row-{pk}">\n'
            f'<div class="d-flex gap-2 align-items-start">\n'
            f'<form method="post" action="{toggle_url}" hx-post="{toggle_url}" {target}>\n'
            f"{self.toggle_form_end[done]}"
            f'<div class="flex-grow-1 min-w-0">\n<div class="text-break">\n'
            f"{self.type_icon(activity.type)}"
            f'<a class="activity-subject" href="{self.detail[0]}{pk}{self.detail[1]}">{_e(activity.subject)}</a>\n'
            f'</div>\n<div class="small text-secondary">\n{meta_html}\n</div>\n</div>\n'
        )
        if done:
            return f"{row}</div>\n</li>\n"
        reschedule_url = f"{self.reschedule[0]}{pk}{self.reschedule[1]}"
        value = (
            f"{local_due.year:04d}-{local_due.month:02d}-{local_due.day:02d}T{local_due.hour:02d}:{local_due.minute:02d}"
            if local_due is not None
            else ""
        )
        return (
            f"{row}{self.menu_start}"
            f'<form method="post" action="{reschedule_url}" hx-post="{reschedule_url}" {target}>\n'
            f"{self.shifts}"
            f'<form method="post" action="{reschedule_url}" hx-post="{reschedule_url}" {target} class="d-flex gap-1">\n'
            f"{self.csrf}\n"
            f'<label class="visually-hidden" for="due-{pk}">{self.new_time}</label>\n'
            f'<input class="form-control form-control-sm" type="datetime-local" name="due_at" id="due-{pk}" '
            f'required value="{value}">\n'
            f'<button class="btn btn-sm btn-primary" type="submit">{self.set}</button>\n'
            f"</form>\n</div>\n</div>\n</div>\n</li>\n"
        )


_MESSAGES = {
    "reopen": gettext_noop("Reopen"),
    "mark_done": gettext_noop("Mark done"),
    "reschedule": gettext_noop("Reschedule"),
    "in_an_hour": gettext_noop("In an hour"),
    "tomorrow": gettext_noop("Tomorrow"),
    "next_week": gettext_noop("Next week"),
    "new_time": gettext_noop("New time"),
    "set": gettext_noop("Set"),
}


@register.simple_tag(takes_context=True)
def activity_rows(context: template.Context, activities: Iterable[Activity]) -> SafeString:
    """``<li>`` rows for a ``list-group`` (select_related type, company, contact, deal)."""
    page = _Page(context)
    return mark_safe("".join(page.row(activity) for activity in activities))  # noqa: S308 (every interpolated value is escaped above)


@register.simple_tag(takes_context=True)
def activity_row(context: template.Context, activity: Activity) -> SafeString:
    return activity_rows(context, [activity])


# --- The activity list's table rows ---------------------------------------------------------


@register.simple_tag(takes_context=True)
def activity_list_rows(context: template.Context, rows: Iterable[Any], selectable: bool = False) -> SafeString:
    """``<tr>``s of the activity list from ``selectors.activity_list_page`` rows labelled by
    ``selectors.label_list_rows``: the type icon and subject, the record it is linked to
    (its deal, else its contact, else its company), the assignee, the due time, the status
    and the day it was logged."""
    now = context.get("now")
    now = now if isinstance(now, datetime) else timezone.now()
    tz = timezone.get_current_timezone()
    dates = DateText()
    detail = _prefix("activities:detail")
    record_urls = {
        "deal": _prefix("deals:detail"),
        "contact": _prefix("contacts:contact-detail"),
        "company": _prefix("contacts:company-detail"),
    }
    badges = {
        key: f'<span class="badge text-bg-{css}">{_e(gettext(label))}</span>'
        for key, css, label in (
            ("done", "success", gettext_noop("done")),
            ("overdue", "danger", gettext_noop("overdue")),
            ("open", "secondary", gettext_noop("open")),
        )
    }
    request = context.get("request")
    user = request.user if selectable and request is not None else None
    select = _e(gettext("Select"))
    out: list[str] = []
    for row in rows:
        pk = row["id"]
        kind = row["type"]
        tick = ""
        if user is not None:
            tick = (
                f'<td class="text-center"><input class="form-check-input" type="checkbox" name="ids" '
                f'value="{pk}" aria-label="{select} {_e(row["subject"])}"></td>\n'
                if user.can_edit_owner(row["owner_id"])
                else "<td></td>\n"
            )
        if row["linked"] is None:
            linked = "—"
        else:
            record, record_id, label = row["linked"]
            head, tail = record_urls[record]
            linked = f'<a href="{head}{record_id}{tail}">{_e(label)}</a>'
        due_at = row["due_at"]
        due = "—" if due_at is None else dates.day_time(due_at.astimezone(tz))
        if row["done_at"] is not None:
            status = badges["done"]
        elif due_at is not None and due_at < now:
            status = badges["overdue"]
        else:
            status = badges["open"]
        out.append(
            f'<tr>\n{tick}<td><i class="bi {_e(kind.icon)}" style="color: {_e(kind.color)}" '
            f'title="{_e(kind.label)}" aria-hidden="true"></i> '
            f'<a href="{detail[0]}{pk}{detail[1]}">{_e(row["subject"])}</a></td>\n'
            f'<td class="small">{linked}</td>\n'
            f'<td class="small text-nowrap">{_e(row["owner_name"])}</td>\n'
            f'<td class="small text-nowrap">{due}</td>\n'
            f"<td>{status}</td>\n"
            f'<td class="small text-nowrap text-secondary">{dates.day(row["created_at"].astimezone(tz))}</td>\n'
            "</tr>\n"
        )
    return mark_safe("".join(out))  # noqa: S308 (every interpolated value is escaped above)
