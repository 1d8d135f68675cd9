"""The rows of the contact and company lists and the company page's "People" panel.

A list page shows 50 rows of ~25 values each: through ``{% include %}`` of a row template
that was ~1,500 template variable lookups per request, most of the page's server time on the
large dataset (bench/FINDINGS.md §6). The rows are Jinja2 templates
(``contacts/jinja2/contacts/``), each page's rows one render (``crm.jinja2``); what every row
shares (record links, labels, the inline editors' URLs) is built once per page here.
"""

from __future__ import annotations

from collections.abc import Iterable

from django import template
from django.contrib.humanize.templatetags.humanize import intcomma
from django.forms import BoundField
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import get_language, gettext
from django_countries import countries as country_names

from contacts.models import Company, Contact, LifecycleStage, ValueSegment
from contacts.normalize import format_phone
from crm.custom_fields import CustomCells
from crm.html import DateText, IdUrl
from crm.inline import InlineCells
from crm.jinja2 import render
from crm.l10n import choice_labels, person_name
from crm.rows import ListRow
from crm.templatetags.bulk_tags import bulk_bar_html, bulk_status_html
from crm.templatetags.list_chrome import list_page_context

register = template.Library()

# The built-in columns of each list, in their default order (``crm.saved_views`` picks some).
CONTACT_COLUMNS = ("name", "company", "email", "phone", "country", "stage", "owner", "tags", "created")
COMPANY_COLUMNS = ("name", "domain", "phone", "contacts", "country", "stage", "owner", "tags", "created")

# The cells edited in place on rows the user may change (crm.inline; the record pages' specs).
CONTACT_INLINE = ("owner", "lifecycle_stage", "phone", "mobile", "email", "tags")
COMPANY_INLINE = ("owner", "lifecycle_stage", "phone", "tags")


class _CountryNames(dict):
    """Country code → name in one language, each looked up once per process."""

    def __missing__(self, code: str) -> str:
        name = self[code] = country_names.name(code)
        return name


_COUNTRY_NAMES: dict[str | None, _CountryNames] = {}


def _country_names() -> _CountryNames:
    """Country names in the active language (filled as the rows ask for them)."""
    return _COUNTRY_NAMES.setdefault(get_language(), _CountryNames())


def _page(rows: list[ListRow], any_editable: bool, list_url: str, columns: list[str]) -> dict:
    """What the rows of either list share."""
    return {
        "rows": rows,
        "any_editable": any_editable,
        "list_url": list_url,
        "columns": columns,
        "stages": choice_labels(LifecycleStage),
        "countries": _country_names(),
        "company_url": IdUrl("contacts:company-detail"),
        "dates": DateText(),
        "person_name": person_name,
        "format_phone": format_phone,
    }


@register.simple_tag(takes_context=True)
def list_page(context: template.Context, kind: str) -> SafeString:
    """The content of the contact list (``kind`` "contact") or the company list ("company"):
    ``contacts/jinja2/contacts/list_page.html`` with the view's context (``_list_context``)."""
    request = context["request"]
    page_context = list_page_context(context)
    views = page_context["views"]
    rows = contact_rows if kind == "contact" else company_rows
    count = page_context["count"]
    count_label = intcomma(count)
    if page_context["count_more"]:
        count_label = gettext("%(n)s+") % {"n": count_label}
    any_editable = page_context["any_editable"]
    return render(
        "contacts/list_page.html",
        {
            **page_context,
            "kind": kind,
            "export_route": f"contacts:{kind}-export",
            "create_url": reverse(f"contacts:{kind}-create"),
            "count_label": count_label,
            "plain_field": plain_field,
            "bulk_status": bulk_status_html(request, kind),
            "bulk_bar": bulk_bar_html(
                request, kind, count=page_context["bulk_count"], query=page_context["page_query"], views=views
            )
            if any_editable
            else "",
            "rows": rows(page_context["page"].rows, any_editable, page_context["list_url"], page_context["columns"]),
        },
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
    return render(
        "contacts/contact_rows.html",
        {
            **_page(rows, any_editable, list_url, columns),
            "custom": CustomCells("contacts.contact", columns, rows),
            "inline": InlineCells(Contact, "contacts:contact-inline", CONTACT_INLINE),
            "contact_url": IdUrl("contacts:contact-detail"),
        },
    )


@register.simple_tag
def company_rows(
    rows: Iterable[ListRow], any_editable: bool, list_url: str, columns: list[str] | None = None
) -> SafeString:
    """``<tr>``s of the company list (columns as in ``contacts/company_list.html``'s header),
    from ``contacts.selectors.COMPANY_ROW_FIELDS`` rows. ``columns``: the keys of the columns
    shown, in order (``COMPANY_COLUMNS`` and ``cf_<key>`` custom fields); all built-in ones by default."""
    rows = list(rows)
    columns = columns or list(COMPANY_COLUMNS)
    return render(
        "contacts/company_rows.html",
        {
            **_page(rows, any_editable, list_url, columns),
            "custom": CustomCells("contacts.company", columns, rows),
            "inline": InlineCells(Company, "contacts:company-inline", COMPANY_INLINE),
            "segments": choice_labels(ValueSegment),
        },
    )


@register.simple_tag
def company_contact_items(contacts: Iterable[ListRow]) -> SafeString:
    """The ``<li>``s of the company page's "People" panel (``company_contact_items.html``)
    from ``contacts.selectors.company_contacts`` rows: the markup of the email, phone and
    consent partials it used to include per person (~150 includes for 50 people, ~7 ms of the
    company page)."""
    return render(
        "contacts/company_contact_items.html",
        {"contacts": contacts, "contact_url": IdUrl("contacts:contact-detail")},
    )
