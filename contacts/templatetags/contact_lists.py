"""The rows of the contact and company lists, rendered in Python.

A list page shows 50 rows of ~25 values each. Through ``{% include %}`` of a row template that
was ~1,500 template variable lookups per request — most of the page's server time on the
large dataset (bench/FINDINGS.md §6). These tags write the same markup with f-strings: every
value is escaped with ``escape`` exactly as autoescaping would, the record links come from one
reversed prefix instead of a ``reverse()`` per row, and the translated strings are looked up
once per page.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote

from django import template
from django.forms import BoundField
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import localtime
from django.utils.translation import gettext
from django_countries import countries as country_names

from contacts.models import Company, Contact, LifecycleStage, ValueSegment
from contacts.normalize import format_phone
from crm.custom_fields import CustomCells
from crm.html import DateText, escape, url_around_id
from crm.inline import InlineCells
from crm.l10n import person_name
from crm.rows import ListRow

register = template.Library()

# The built-in columns of each list, in their default order (``crm.saved_views`` picks some).
CONTACT_COLUMNS = ("name", "company", "email", "phone", "country", "stage", "owner", "tags", "created")
COMPANY_COLUMNS = ("name", "domain", "phone", "contacts", "country", "stage", "owner", "tags", "created")

# The cells edited in place on rows the user may change (crm.inline; the record pages' specs).
CONTACT_INLINE = ("owner", "lifecycle_stage", "phone", "mobile", "email", "tags")
COMPANY_INLINE = ("owner", "lifecycle_stage", "phone", "tags")


def _created(value, dates: DateText) -> str:
    return dates.day(localtime(value)) if value else ""


def _tags(record, list_url: str) -> str:
    return "".join(
        f'<a class="badge rounded-pill text-bg-light border text-decoration-none me-1" '
        f'href="{escape(list_url)}?tag={escape(quote(tag, safe="/"))}">{escape(tag)}</a>'
        for tag in record.tag_names
    )


def _country(code: str, names: dict[str, str]) -> str:
    """A row's country code with its name as a tooltip, each code's markup built once per page."""
    if not code:
        return ""
    if code not in names:
        names[code] = f'<span title="{escape(country_names.name(code))}">{escape(code)}</span>'
    return names[code]


def _owner(row) -> str:
    """``User.__str__`` of the row's owner: full name, else username."""
    return person_name(row.owner__first_name, row.owner__last_name) or row.owner__username


def _labels(choices) -> dict[str, str]:
    """Escaped display labels of a ``TextChoices`` (``get_FOO_display`` normalises the whole
    choice list on every call)."""
    return {value: escape(label) for value, label in choices.choices}  # escape() evaluates lazy labels once


def _strings() -> dict[str, str]:
    return {
        "select": escape(gettext("Select")),
        "do_not_email": escape(gettext("Do not email")),
        "do_not_call": escape(gettext("Do not call")),
        "unverified": escape(gettext("unverified")),
        "unverified_title": escape(gettext("Kept as typed: this number did not validate.")),
    }


class _Editable:
    """A row's cells, with their inline editors when the user may change the row."""

    def __init__(self, inline: InlineCells, pk: int, editable: bool) -> None:
        self.inline, self.pk, self.editable = inline, pk, editable

    def __call__(self, name: str, shown: str) -> str:
        return self.inline.cell(self.pk, name, shown) if self.editable else shown


def _unverified(text: dict[str, str]) -> str:
    return (
        f'<span class="badge text-bg-warning" title="{text["unverified_title"]}">'
        f'<i class="bi bi-exclamation-triangle" aria-hidden="true"></i> {text["unverified"]}</span>'
    )


@register.simple_tag
def plain_field(field: BoundField) -> SafeString:
    """A filter or quick-add field: its label, then the widget (no help text, no errors)."""
    label = '<label class="form-label small mb-1" for="{}">{}</label>{}'
    return format_html(label, field.id_for_label, field.label, field)


@register.simple_tag
def contact_rows(
    rows: Iterable[ListRow], any_editable: bool, list_url: str, columns: list[str] | None = None
) -> SafeString:
    """``<tr>``s of the contact list (columns as in ``contacts/contact_list.html``'s header),
    from ``contacts.selectors.CONTACT_ROW_FIELDS`` rows. ``columns``: the keys of the columns
    shown, in order (``CONTACT_COLUMNS`` and ``cf_<key>`` custom fields); all built-in ones by default."""
    rows = list(rows)
    columns = columns or list(CONTACT_COLUMNS)
    custom = CustomCells("contacts.contact", columns, rows)
    text = _strings()
    stages = _labels(LifecycleStage)
    countries: dict[str, str] = {}
    contact_head, contact_tail = url_around_id("contacts:contact-detail")
    company_head, company_tail = url_around_id("contacts:company-detail")
    dates = DateText()
    inline = InlineCells(Contact, "contacts:contact-inline", CONTACT_INLINE) if any_editable else None
    out: list[str] = []
    for contact in rows:
        name = escape(person_name(contact.first_name, contact.last_name))  # Contact.full_name
        cells = ['<tr class="table-secondary">' if contact.archived_at is not None else "<tr>"]
        edit = _Editable(inline, contact.pk, any_editable and contact.can_edit)
        if any_editable:
            box = ""
            if contact.can_edit:
                box = (
                    f'<input class="form-check-input" type="checkbox" name="ids" form="bulk-form" '
                    f'value="{contact.pk}" aria-label="{text["select"]} {name}">'
                ) + inline.version(contact.pk, contact.version)
            cells.append(f'<td class="text-center">{box}</td>')
        cell: dict[str, str] = {}
        title = f'<div class="small text-secondary">{escape(contact.title)}</div>' if contact.title else ""
        cell["name"] = (
            f'<td style="min-width: 12rem"><a class="fw-semibold" href="{contact_head}{contact.pk}{contact_tail}">'
            f"{name}</a>{title}</td>"
        )
        company = ""
        if contact.company_id is not None:
            company = (
                f'<a class="link-body-emphasis" href="{company_head}{contact.company_id}{company_tail}">'
                f"{escape(contact.company__name)}</a>"
            )
        cell["company"] = f'<td style="min-width: 10rem">{company}</td>'
        email = ""
        if contact.email:
            address = escape(contact.email)
            if contact.do_not_email:
                email = (
                    f'<span class="text-decoration-line-through text-secondary">{address}</span> '
                    f'<span class="badge text-bg-danger consent-flag"><i class="bi bi-envelope-slash" '
                    f'aria-hidden="true"></i> {text["do_not_email"]}</span>'
                )
            else:
                email = f'<a href="mailto:{address}">{address}</a>'
        cell["email"] = f"<td>{edit('email', email)}</td>"
        phone = ""
        number = contact.phone or contact.mobile
        if number:
            shown = escape(format_phone(number))
            if contact.do_not_call:
                phone = (
                    f'<span class="text-decoration-line-through text-secondary text-nowrap">{shown}</span> '
                    f'<span class="badge text-bg-danger consent-flag"><i class="bi bi-telephone-x" '
                    f'aria-hidden="true"></i> {text["do_not_call"]}</span>'
                )
            else:
                phone = f'<a href="tel:{escape(number)}" class="text-nowrap">{shown}</a>'
            if contact.phone_is_invalid:
                phone += " " + _unverified(text)
        # The number shown is the one edited: the phone, or the mobile of someone without one.
        cell["phone"] = f"<td>{edit('mobile' if contact.mobile and not contact.phone else 'phone', phone)}</td>"
        cell["country"] = f"<td>{_country(contact.country, countries)}</td>"
        stage = (
            f'<span class="badge stage-{escape(contact.lifecycle_stage)}">'
            f"{stages.get(contact.lifecycle_stage, escape(contact.lifecycle_stage))}</span>"
        )
        cell["stage"] = f"<td>{edit('lifecycle_stage', stage)}</td>"
        cell["owner"] = f'<td class="text-nowrap">{edit("owner", escape(_owner(contact)))}</td>'
        cell["tags"] = f"<td>{edit('tags', _tags(contact, list_url))}</td>"
        cell["created"] = f'<td class="text-nowrap small text-secondary">{_created(contact.created_at, dates)}</td>'
        cells.extend(cell[key] if key in cell else custom.cell(contact, key) for key in columns)
        cells.append("</tr>")
        out.append("\n  ".join(cells[:-1]) + "\n" + cells[-1])
    return mark_safe("\n".join(out))  # noqa: S308 (every interpolated value is escaped above)


@register.simple_tag
def company_rows(
    rows: Iterable[ListRow], any_editable: bool, list_url: str, columns: list[str] | None = None
) -> SafeString:
    """``<tr>``s of the company list (columns as in ``contacts/company_list.html``'s header),
    from ``contacts.selectors.COMPANY_ROW_FIELDS`` rows. ``columns``: the keys of the columns
    shown, in order (``COMPANY_COLUMNS`` and ``cf_<key>`` custom fields); all built-in ones by default."""
    rows = list(rows)
    columns = columns or list(COMPANY_COLUMNS)
    custom = CustomCells("contacts.company", columns, rows)
    text = _strings()
    stages = _labels(LifecycleStage)
    segments = _labels(ValueSegment)
    countries: dict[str, str] = {}
    company_head, company_tail = url_around_id("contacts:company-detail")
    dates = DateText()
    inline = InlineCells(Company, "contacts:company-inline", COMPANY_INLINE) if any_editable else None
    out: list[str] = []
    for company in rows:
        name = escape(company.name)
        cells = ['<tr class="table-secondary">' if company.archived_at is not None else "<tr>"]
        edit = _Editable(inline, company.pk, any_editable and company.can_edit)
        if any_editable:
            box = ""
            if company.can_edit:
                box = (
                    f'<input class="form-check-input" type="checkbox" name="ids" form="bulk-form" '
                    f'value="{company.pk}" aria-label="{text["select"]} {name}">'
                ) + inline.version(company.pk, company.version)
            cells.append(f'<td class="text-center">{box}</td>')
        cell: dict[str, str] = {}
        industry = f'<div class="small text-secondary">{escape(company.industry)}</div>' if company.industry else ""
        cell["name"] = (
            f'<td style="min-width: 14rem"><a class="fw-semibold" href="{company_head}{company.pk}{company_tail}">'
            f"{name}</a>{industry}</td>"
        )
        domain = f'<span class="text-nowrap">{escape(company.domain)}</span>' if company.domain else ""
        cell["domain"] = f"<td>{domain}</td>"
        phone = ""
        if company.phone:
            phone = (
                f'<a href="tel:{escape(company.phone)}" class="text-nowrap">{escape(format_phone(company.phone))}</a>'
            )
            if company.phone_is_invalid:
                phone += " " + _unverified(text)
        cell["phone"] = f"<td>{edit('phone', phone)}</td>"
        cell["contacts"] = f'<td class="text-end">{company.contact_count}</td>'
        cell["country"] = f"<td>{_country(company.country, countries)}</td>"
        segment = ""
        if company.value_segment:
            label = segments.get(company.value_segment, escape(company.value_segment))
            segment = f'<div class="small text-secondary text-nowrap">{label}</div>'
        stage = (
            f'<span class="badge stage-{escape(company.lifecycle_stage)}">'
            f"{stages.get(company.lifecycle_stage, escape(company.lifecycle_stage))}</span>"
        )
        cell["stage"] = f"<td>{edit('lifecycle_stage', stage)}{segment}</td>"
        cell["owner"] = f'<td class="text-nowrap">{edit("owner", escape(_owner(company)))}</td>'
        cell["tags"] = f"<td>{edit('tags', _tags(company, list_url))}</td>"
        cell["created"] = f'<td class="text-nowrap small text-secondary">{_created(company.created_at, dates)}</td>'
        cells.extend(cell[key] if key in cell else custom.cell(company, key) for key in columns)
        cells.append("</tr>")
        out.append("\n  ".join(cells[:-1]) + "\n" + cells[-1])
    return mark_safe("\n".join(out))  # noqa: S308 (every interpolated value is escaped above)


@register.simple_tag
def company_contact_items(contacts: Iterable[Contact]) -> SafeString:
    """The ``<li>``s of the company page's "People" panel (``company_contacts.html``): the
    markup of the email, phone and consent partials it used to include per person (~150
    includes for 50 people, ~7 ms of the company page)."""
    text = _strings()
    no_call_title = escape(gettext("This person asked not to be called."))
    no_email_title = escape(gettext("This person asked not to be emailed."))
    head, tail = url_around_id("contacts:contact-detail")
    out: list[str] = []
    for contact in contacts:
        title = f'<div class="small text-secondary">{escape(contact.title)}</div>' if contact.title else ""
        parts = []
        if contact.email:
            address = escape(contact.email)
            if contact.do_not_email:
                parts.append(f'<span class="text-decoration-line-through text-secondary">{address}</span>')
            else:
                parts.append(f'<a href="mailto:{address}">{address}</a>')
        number = contact.phone or contact.mobile
        if number:
            shown = escape(contact.phone_display or contact.mobile_display)
            if contact.do_not_call:
                phone = f'<span class="text-decoration-line-through text-secondary">{shown}</span>'
            else:
                phone = f'<a href="tel:{escape(number)}" class="text-nowrap">{shown}</a>'
            if contact.phone_is_invalid:
                phone += " " + _unverified(text)
            parts.append(phone)
        if contact.do_not_call:
            parts.append(
                f'<span class="badge text-bg-danger consent-flag" title="{no_call_title}"><i class="bi bi-telephone-x" '
                f'aria-hidden="true"></i> {text["do_not_call"]}</span>'
            )
        if contact.do_not_email:
            parts.append(
                f'<span class="badge text-bg-danger consent-flag" title="{no_email_title}"><i class="bi '
                f'bi-envelope-slash" aria-hidden="true"></i> {text["do_not_email"]}</span>'
            )
        out.append(
            '<li class="list-group-item d-flex flex-wrap column-gap-3 row-gap-1 justify-content-between '
            'align-items-center">\n'
            f'  <div><a href="{head}{contact.pk}{tail}">{escape(contact.full_name)}</a>{title}</div>\n'
            '  <div class="small d-flex flex-wrap column-gap-3 align-items-center text-break">\n'
            + "".join(f"    {part}\n" for part in parts)
            + "  </div>\n</li>"
        )
    return mark_safe("\n".join(out))  # noqa: S308 (every interpolated value is escaped above)
