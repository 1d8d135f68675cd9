from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from contacts import services
from contacts.duplicates import (
    LAST_REFRESH_CACHE_KEY,
    Duplicate,
    company_duplicates,
    contact_duplicates,
)
from contacts.duplicates import duplicate_dismiss as duplicate_dismiss_service
from contacts.forms import (
    CompanyFilterForm,
    CompanyForm,
    CompanyQuickForm,
    ContactFilterForm,
    ContactForm,
    ContactQuickForm,
    DuplicateFilterForm,
    MergeForm,
    parse_tags,
)
from contacts.keyset import (
    KeysetPage,
    SortOption,
    TieredSearch,
    capped_count,
    for_search,
    keyset_page,
    search_page,
    tiered_search_page,
)
from contacts.merge import merge_undo, open_merges, records_merge
from contacts.models import Company, Contact
from contacts.selectors import (
    BEST_MATCH,
    COMPANY_ROW_FIELDS,
    CONTACT_ROW_FIELDS,
    ListFilters,
    best_match_order,
    candidate_for_user,
    company_contacts,
    company_for_user,
    company_list,
    company_options,
    company_sorts,
    contact_for_user,
    contact_list,
    contact_options,
    contact_search_tiers,
    contact_sorts,
    data_quality,
    duplicate_candidates,
    history_entries,
    list_rows_by_id,
    merge_for_user,
    merge_preview,
    merge_same_fields,
    record_tags,
    tag_suggestions,
    unfiltered_first_page,
)
from contacts.tasks import refresh_duplicates
from crm import custom_fields, exports
from crm.inline import InlineSpec, inline_edit_view, register_inline
from crm.params import clean_text, optional_id, safe_next
from crm.rows import ListRow, list_rows
from crm.saved_views import Column, ListState, list_state
from crm.services import outbox_enqueue
from crm.versioning import VersionConflict
from crm.views import bulk_apply

PAGE_SIZE = 50
# Changing one of these on an existing record is when a possible duplicate is worth a look.
COMPANY_IDENTITY = {"name", "domain", "phone", "email"}
CONTACT_IDENTITY = {
    "first_name", "last_name", "email", "secondary_email", "phone", "mobile", "company", "street", "postcode",
    "birth_date",
}  # fmt: skip


# The built-in columns of the two lists: (key, label, sort key or "", right-aligned).
_COMPANY_HEADER = [
    ("name", gettext_lazy("Name"), "name", False),
    ("domain", gettext_lazy("Domain"), "domain", False),
    ("phone", gettext_lazy("Phone"), "", False),
    ("contacts", gettext_lazy("Contacts"), "", True),
    ("country", gettext_lazy("Country"), "country", False),
    ("stage", gettext_lazy("Stage"), "stage", False),
    ("owner", gettext_lazy("Owner"), "", False),
    ("tags", gettext_lazy("Tags"), "", False),
    ("created", gettext_lazy("Created"), "created", False),
]
_CONTACT_HEADER = [
    ("name", gettext_lazy("Name"), "name", False),
    ("company", gettext_lazy("Company"), "", False),
    ("email", gettext_lazy("Email"), "email", False),
    ("phone", gettext_lazy("Phone"), "", False),
    ("country", gettext_lazy("Country"), "country", False),
    ("stage", gettext_lazy("Stage"), "stage", False),
    ("owner", gettext_lazy("Owner"), "", False),
    ("tags", gettext_lazy("Tags"), "", False),
    ("created", gettext_lazy("Created"), "created", False),
]


def _columns(header: list[tuple[str, Any, str, bool]], model: str) -> list[Column]:
    """The columns a saved view may pick: the built-in ones (the name always) and the custom fields."""
    builtin = [Column(key, label) for key, label, _sort, _end in header if key != "name"]
    return builtin + [Column(key, label, default=False) for key, label in custom_fields.list_columns(model)]


def _header(state: ListState, header: list[tuple[str, Any, str, bool]], sort_links: dict) -> list[dict[str, Any]]:
    """The table's header cells for the columns shown (the name first, always)."""
    labels = {key: (label, sort, end) for key, label, sort, end in header}
    custom = {c.key: c.label for c in state.all_columns}
    cells = []
    for key in ["name", *state.columns]:
        if key in labels:
            label, sort, end = labels[key]
            cells.append({"key": key, "label": label, "link": sort_links.get(sort) if sort else None, "end": end})
        else:
            cells.append({"key": key, "label": custom.get(key, ""), "link": None, "end": False})
    return cells


def _unfiltered(request: HttpRequest, filters: ListFilters) -> bool:
    """The list as most visits open it: no filter, no search, the first page."""
    return filters == ListFilters() and not request.GET.get("after") and not request.GET.get("before")


def _rows_context(request: HttpRequest, form: Any, filters: ListFilters, kind: str) -> dict[str, Any]:
    """``_list_context`` of the contact (``kind`` "contact") or company list: with no filter,
    from the compiled first page (``unfiltered_first_page``), else from the built queries."""
    selector, fields, sorts = (
        (contact_list, CONTACT_ROW_FIELDS, contact_sorts)
        if kind == "contact"
        else (company_list, COMPANY_ROW_FIELDS, company_sorts)
    )
    if _unfiltered(request, filters):
        first = unfiltered_first_page(request.user, kind, form.sort_key, size=PAGE_SIZE)
        return _list_context(request, form, None, sorts(), first=first)
    matching = selector(request.user, filters)
    return _list_context(
        request,
        form,
        list_rows(matching, fields),
        sorts(),
        counted=matching,
        rows_by_id=lambda ids: list_rows_by_id(request.user, kind, ids),
        best_match=contact_search_tiers(request.user, filters) if form.sort_key == BEST_MATCH else None,
    )


def _list_context(
    request: HttpRequest,
    form: Any,
    qs: Any,
    sorts: dict[str, SortOption],
    *,
    first: tuple[KeysetPage, int, bool] | None = None,
    counted: Any = None,
    rows_by_id: Callable[[list[int]], list[ListRow]] | None = None,
    best_match: TieredSearch | None = None,
) -> dict[str, Any]:
    """What both list pages share: the keyset page, the capped count and the sort/page links.
    ``first``: the page and count already read (``unfiltered_first_page``), with no ``qs``.
    ``counted``: the matching records before ``list_rows`` (their count needs no join to the
    owners and companies a row prints). ``rows_by_id``: a search's rows of the ids it found
    (``search_page``). ``best_match``: a contact search in best-match order
    (``contact_search_tiers``)."""
    sort = form.sort_key
    # Best match for a query with no word that could be a surname (a phone number): by name.
    option = sorts.get(sort) or sorts[form.default_sort]
    after = clean_text(request.GET.get("after"), name="after", max_length=200)
    before = clean_text(request.GET.get("before"), name="before", max_length=200)
    if first is not None:
        page, count, more = first
    elif best_match is not None and rows_by_id is not None:
        page, count, more = tiered_search_page(
            best_match, rows_by_id=rows_by_id, after=after, before=before, size=PAGE_SIZE
        )
    elif form.cleaned_data.get("q"):
        # A search sorts all its matches anyway: the page and the count come from one pass.
        page, count, more = search_page(
            qs,
            for_search(option),
            after=after,
            before=before,
            size=PAGE_SIZE,
            matching=counted,
            rows_by_id=rows_by_id,
        )
    else:
        page = keyset_page(qs, option, after=after, before=before, size=PAGE_SIZE)
        count, more = capped_count(qs if counted is None else counted)
    params = request.GET.copy()
    for name in ("after", "before", "sort"):
        params.pop(name, None)
    sort_links = {}
    for key in sorts:
        if key.startswith("-"):
            continue
        params["sort"] = f"-{key}" if sort == key else key
        sort_links[key] = {
            "url": f"?{params.urlencode()}",
            "direction": "asc" if sort == key else "desc" if sort == f"-{key}" else "",
        }
    params["sort"] = sort
    for row in page.rows:
        row.can_edit = request.user.can_edit_owner(row.owner_id)
    return {
        "form": form,
        "page": page,
        "count": count,
        "count_more": more,
        # "Apply to all N matching" names N only when the count is exact (not "10,000+").
        "bulk_count": None if more else count,
        "sort": sort,
        "sort_links": sort_links,
        "page_query": params.urlencode(),
        "filter_count": form.active_count,
        "assignable_users": request.user.visible_users,
        "best_match": best_match is not None,
        "any_editable": any(row.can_edit for row in page.rows),
    }


def _back(request: HttpRequest, fallback: str) -> HttpResponse:
    return redirect(safe_next(request, fallback))


# --- Companies ----------------------------------------------------------------------------


@require_GET
def company_list_view(request: HttpRequest) -> HttpResponse:
    state = list_state(request, "companies", columns=_columns(_COMPANY_HEADER, "contacts.company"))
    if state.redirect:
        return state.redirect
    form = CompanyFilterForm(state.params, user=request.user, default_sort="name")
    filters = form.filters()
    context = _rows_context(request, form, filters, "company")
    context.update(
        nav="companies",
        list_url=reverse("contacts:company-list"),
        quick_form=CompanyQuickForm(user=request.user, auto_id="quick_%s"),
        views=state,
        columns=["name", *state.columns],
        header=_header(state, _COMPANY_HEADER, context["sort_links"]),
    )
    return render(request, "contacts/company_list.html", context)


def _company_duplicates(request: HttpRequest, form: CompanyForm, *, exclude_pk: int | None = None) -> list[Duplicate]:
    """Possible duplicates to confirm before saving, unless the user chose "Save anyway" or
    an edit leaves the identifying fields alone."""
    if request.POST.get("save_anyway") or not set(form.changed_data) & COMPANY_IDENTITY:
        return []
    data = form.cleaned_data
    return company_duplicates(
        request.user,
        name=data["name"],
        domain=data.get("domain", ""),
        phone=data.get("phone", ""),
        email=data.get("email", ""),
        exclude_pk=exclude_pk,
    )


def _contact_duplicates(request: HttpRequest, form: ContactForm, *, exclude_pk: int | None = None) -> list[Duplicate]:
    if request.POST.get("save_anyway") or not set(form.changed_data) & CONTACT_IDENTITY:
        return []
    data = form.cleaned_data
    return contact_duplicates(
        request.user,
        first_name=data.get("first_name", ""),
        last_name=data["last_name"],
        emails=[data.get("email", ""), data.get("secondary_email", "")],
        phones=[data.get("phone", ""), data.get("mobile", "")],
        company=data.get("company"),
        street=data.get("street", ""),
        city=data.get("city", ""),
        postcode=data.get("postcode", ""),
        birth_date=data.get("birth_date"),
        exclude_pk=exclude_pk,
    )


def _conflict_form(form_class: Any, request: HttpRequest, conflict: VersionConflict) -> Any:
    """The editor's values again, now based on the saved version: saving it once more is a
    deliberate "keep mine" made after reading what the other person changed."""
    data = request.POST.copy()
    data["version"] = str(conflict.version)
    form = form_class(data, instance=conflict.instance, user=request.user)
    form.is_valid()
    return form


def company_create(request: HttpRequest) -> HttpResponse:
    form_class = CompanyQuickForm if "quick" in request.POST else CompanyForm
    form = form_class(request.POST or None, user=request.user)
    duplicates: list[Duplicate] = []
    if request.method == "POST" and form.is_valid():
        duplicates = _company_duplicates(request, form)
        if not duplicates:
            company = services.company_create(actor=request.user, **form.service_kwargs())
            messages.success(request, _("Company “%(name)s” created.") % {"name": company.name})
            return redirect(company)
    context = {"form": form, "duplicates": duplicates, "nav": "companies"}
    return render(request, "contacts/company_form.html", context)


@require_GET
def company_detail(request: HttpRequest, pk: int) -> HttpResponse:
    company = company_for_user(request.user, pk, for_page=True)
    if company.merged_into_id and company.merged_into_id != company.pk:
        messages.info(request, _("“%(name)s” was merged into this company.") % {"name": company.name})
        return redirect("contacts:company-detail", company.merged_into_id)
    context = {
        "company": company,
        "duplicate_count": company.open_duplicates,
        "merges": open_merges(company) if company.has_open_merges else [],
        "tags": record_tags(company),
        "contacts": company_contacts(company),
        "history": history_entries(company, user=request.user),
        "can_edit": request.user.can_edit_owner(company.owner_id),
        "nav": "companies",
    }
    return render(request, "contacts/company_detail.html", context)


def _merge_links(request: HttpRequest, duplicates: list[Duplicate], record: Company | Contact) -> dict[int, str]:
    """For an edit form's possible duplicates: where to merge the record being edited into
    each one the user may change (the merge screen then asks field by field)."""
    name = "contacts:company-merge" if isinstance(record, Company) else "contacts:contact-merge"
    return {
        d.record.pk: reverse(name, args=[d.record.pk, record.pk])
        for d in duplicates
        if request.user.can_edit_owner(d.record.owner_id)
    }


def company_edit(request: HttpRequest, pk: int) -> HttpResponse:
    company = company_for_user(request.user, pk, write=True)
    form = CompanyForm(request.POST or None, instance=company, user=request.user)
    duplicates: list[Duplicate] = []
    conflict = None
    if request.method == "POST" and form.is_valid():
        duplicates = _company_duplicates(request, form, exclude_pk=company.pk)
        if not duplicates:
            try:
                services.company_update(actor=request.user, company=company, **form.service_kwargs())
            except VersionConflict as exc:
                conflict = exc
                form = _conflict_form(CompanyForm, request, exc)
            else:
                messages.success(request, _("Changes saved."))
                return redirect(company)
    if request.method == "POST":
        # Validating the form wrote the typed values onto the record; show the saved one.
        company = company_for_user(request.user, pk, write=True)
    context = {
        "form": form,
        "company": company,
        "conflict": conflict,
        "duplicates": duplicates,
        "merge_links": _merge_links(request, duplicates, company),
        "nav": "companies",
    }
    return render(request, "contacts/company_form.html", context, status=409 if conflict else 200)


@require_POST
def company_archive(request: HttpRequest, pk: int) -> HttpResponse:
    company = company_for_user(request.user, pk, write=True)
    services.company_archive(actor=request.user, company=company)
    messages.success(request, _("“%(name)s” archived. It no longer appears in lists.") % {"name": company.name})
    return redirect("contacts:company-list")


@require_POST
def company_restore(request: HttpRequest, pk: int) -> HttpResponse:
    company = company_for_user(request.user, pk)
    if not request.user.is_admin:
        raise PermissionDenied
    services.company_restore(actor=request.user, company=company)
    messages.success(request, _("“%(name)s” restored.") % {"name": company.name})
    return redirect(company)


@require_POST
def company_reassign(request: HttpRequest) -> HttpResponse:
    """The former "Assign to…" endpoint: now the list's bulk action ``assign`` (``crm.bulk_actions``)."""
    return _bulk_assign(request, "company")


def _bulk_assign(request: HttpRequest, kind: str) -> HttpResponse:
    request.POST = request.POST.copy()
    request.POST["action"] = "assign"
    return bulk_apply(request, kind)


@require_GET
def contact_picker_options(request: HttpRequest) -> HttpResponse:
    """<option>s for a contact select, filtered by what was typed (``contact_q``)."""
    query = clean_text(request.GET.get("contact_q"), name="contact_q", max_length=100)
    return render(
        request,
        "contacts/partials/contact_options.html",
        {"contacts": contact_options(request.user, query), "query": query.strip()},
    )


@require_GET
def company_picker_options(request: HttpRequest) -> HttpResponse:
    """<option>s for the contact form's company select, filtered by what was typed."""
    query = clean_text(request.GET.get("company_q"), name="company_q", max_length=100)
    return render(
        request,
        "contacts/partials/company_options.html",
        {"companies": company_options(request.user, query), "query": query.strip()},
    )


# --- Contacts -----------------------------------------------------------------------------


@require_GET
def contact_list_view(request: HttpRequest) -> HttpResponse:
    state = list_state(request, "contacts", columns=_columns(_CONTACT_HEADER, "contacts.contact"))
    if state.redirect:
        return state.redirect
    form = ContactFilterForm(state.params, user=request.user, default_sort="name")
    filters = form.filters()
    context = _rows_context(request, form, filters, "contact")
    context.update(
        views=state,
        columns=["name", *state.columns],
        header=_header(state, _CONTACT_HEADER, context["sort_links"]),
        nav="contacts",
        list_url=reverse("contacts:contact-list"),
        company_filter=filters.company,
        quick_form=ContactQuickForm(
            user=request.user, auto_id="quick_%s", initial={"company": filters.company.pk if filters.company else None}
        ),
    )
    return render(request, "contacts/contact_list.html", context)


def contact_create(request: HttpRequest) -> HttpResponse:
    form_class = ContactQuickForm if "quick" in request.POST else ContactForm
    company_id = optional_id(request.GET, "company")
    initial = {"company": company_id} if company_id is not None else {}
    form = form_class(request.POST or None, user=request.user, initial=initial)
    duplicates: list[Duplicate] = []
    if request.method == "POST" and form.is_valid():
        duplicates = _contact_duplicates(request, form)
        if not duplicates:
            contact = services.contact_create(actor=request.user, **form.service_kwargs())
            messages.success(request, _("Contact “%(name)s” created.") % {"name": contact.full_name})
            return redirect(contact)
    context = {"form": form, "duplicates": duplicates, "nav": "contacts"}
    return render(request, "contacts/contact_form.html", context)


@require_GET
def contact_detail(request: HttpRequest, pk: int) -> HttpResponse:
    contact = contact_for_user(request.user, pk, for_page=True)
    if contact.merged_into_id and contact.merged_into_id != contact.pk:
        messages.info(request, _("“%(name)s” was merged into this contact.") % {"name": contact.full_name})
        return redirect("contacts:contact-detail", contact.merged_into_id)
    context = {
        "contact": contact,
        "duplicate_count": contact.open_duplicates,
        "merges": open_merges(contact) if contact.has_open_merges else [],
        "tags": record_tags(contact),
        "history": history_entries(contact, user=request.user),
        "can_edit": request.user.can_edit_owner(contact.owner_id),
        "nav": "contacts",
    }
    return render(request, "contacts/contact_detail.html", context)


def contact_edit(request: HttpRequest, pk: int) -> HttpResponse:
    contact = contact_for_user(request.user, pk, write=True)
    form = ContactForm(request.POST or None, instance=contact, user=request.user)
    duplicates: list[Duplicate] = []
    conflict = None
    if request.method == "POST" and form.is_valid():
        duplicates = _contact_duplicates(request, form, exclude_pk=contact.pk)
        if not duplicates:
            try:
                services.contact_update(actor=request.user, contact=contact, **form.service_kwargs())
            except VersionConflict as exc:
                conflict = exc
                form = _conflict_form(ContactForm, request, exc)
            else:
                messages.success(request, _("Changes saved."))
                return redirect(contact)
    if request.method == "POST":
        # Validating the form wrote the typed values onto the record; show the saved one.
        contact = contact_for_user(request.user, pk, write=True)
    context = {
        "form": form,
        "contact": contact,
        "conflict": conflict,
        "duplicates": duplicates,
        "merge_links": _merge_links(request, duplicates, contact),
        "nav": "contacts",
    }
    return render(request, "contacts/contact_form.html", context, status=409 if conflict else 200)


@require_POST
def contact_archive(request: HttpRequest, pk: int) -> HttpResponse:
    contact = contact_for_user(request.user, pk, write=True)
    services.contact_archive(actor=request.user, contact=contact)
    messages.success(request, _("“%(name)s” archived. It no longer appears in lists.") % {"name": contact.full_name})
    return redirect("contacts:contact-list")


@require_POST
def contact_restore(request: HttpRequest, pk: int) -> HttpResponse:
    contact = contact_for_user(request.user, pk)
    if not request.user.is_admin:
        raise PermissionDenied
    services.contact_restore(actor=request.user, contact=contact)
    messages.success(request, _("“%(name)s” restored.") % {"name": contact.full_name})
    return redirect(contact)


@require_POST
def contact_reassign(request: HttpRequest) -> HttpResponse:
    """The former "Assign to…" endpoint: now the list's bulk action ``assign`` (``crm.bulk_actions``)."""
    return _bulk_assign(request, "contact")


@require_GET
def tag_suggest(request: HttpRequest) -> HttpResponse:
    """<option>s for the tags <datalist>: the tags typed so far plus a completion of the last."""
    name = "tags" if "tags" in request.GET else "tag"
    typed = clean_text(request.GET.get(name), name=name, max_length=600)
    done = parse_tags(typed)
    last = "" if typed.rstrip().endswith(",") or not done else done.pop()
    prefix = ", ".join(done)
    taken = {name.lower() for name in done}
    options = [
        f"{prefix}, {name}" if prefix else name
        for name in tag_suggestions(request.user, last)
        if name.lower() not in taken
    ]
    return render(request, "contacts/partials/tag_options.html", {"options": options})


# --- Export -------------------------------------------------------------------------------


def _export_order(qs: Any, option: SortOption) -> Any:
    keys = [*option.keys, F("id")]
    return qs.order_by(*[key.desc() if option.descending else key.asc() for key in keys])


def _custom_export(defs: list[custom_fields.FieldDef], record: Any, names: dict[int, str]) -> list[str]:
    """The record's custom field values as the import reads them back (choices by name,
    several choices comma-separated, yes/no, dates ISO, users by username)."""
    stored = record.custom or {}
    return [custom_fields.export_value(defn, stored.get(defn.key), names) for defn in defs]


def _company_export_rows(qs: Any, defs: list[custom_fields.FieldDef], names: dict[int, str]):
    for company in qs.iterator(chunk_size=2000):
        yield [
            company.name,
            company.domain,
            company.industry,
            company.size,
            company.phone,
            company.email,
            company.street,
            company.city,
            company.postal_code,
            company.region,
            company.country.code or "",
            company.owner.username,
            company.get_lifecycle_stage_display(),
            company.get_source_display(),
            ", ".join(company.tag_names),
            company.external_id,
            company.contact_count,
            company.created_at,
            *_custom_export(defs, company, names),
        ]


def _contact_export_rows(qs: Any, defs: list[custom_fields.FieldDef], names: dict[int, str]):
    for contact in qs.iterator(chunk_size=2000):
        yield [
            contact.first_name,
            contact.last_name,
            contact.title,
            contact.email,
            contact.secondary_email,
            contact.phone,
            contact.mobile,
            contact.company.name if contact.company else "",
            contact.company.domain if contact.company else "",
            contact.street,
            contact.street2,
            contact.city,
            contact.region,
            contact.postcode,
            contact.country.code or "",
            contact.birth_date,
            contact.owner.username,
            contact.get_lifecycle_stage_display(),
            contact.get_source_display(),
            ", ".join(contact.tag_names),
            contact.external_id,
            "yes" if contact.do_not_call else "no",
            "yes" if contact.do_not_email else "no",
            contact.created_at,
            *_custom_export(defs, contact, names),
        ]


def _export(request: HttpRequest, kind: str, fmt: str) -> HttpResponse:
    """The list as filtered and sorted on its page (only rows the user may see), as a CSV
    streamed row by row or an XLSX workbook. Headers match what the import recognises, so an
    exported file can be imported back."""
    if fmt not in ("csv", "xlsx"):
        raise Http404
    model = "contacts.company" if kind == "companies" else "contacts.contact"
    header_def = _COMPANY_HEADER if kind == "companies" else _CONTACT_HEADER
    # A saved view's filters apply to its export too (``?view=`` in the list's links).
    state = list_state(request, kind, columns=_columns(header_def, model))
    return export_records(request, kind, state.params, fmt=fmt)


def export_records(
    request: HttpRequest, kind: str, query: Any, *, ids: list[int] | None = None, fmt: str = "csv"
) -> HttpResponse:
    """``_export`` of the list filtered by ``query``; with ``ids`` (the rows ticked for the
    bulk bar's "Export"), only those."""
    stamp = timezone.localdate().isoformat()
    model = "contacts.company" if kind == "companies" else "contacts.contact"
    defs = custom_fields.fields_for(model)
    # User fields' names: every user's, once (a few hundred at most), not a query per row.
    names = custom_fields.all_user_names() if any(d.field_type == "user" for d in defs) else {}
    if kind == "companies":
        form = CompanyFilterForm(query, user=request.user, default_sort="name")
        qs = company_list(request.user, form.filters())
        qs = qs if ids is None else qs.filter(pk__in=ids)
        qs = _export_order(qs, company_sorts()[form.sort_key])
        header = [_("Name"), _("Website"), _("Industry"), _("Size"), _("Phone"), _("Email"), _("Street"), _("City"),
                  _("Postal code"), _("Region"), _("Country"), _("Owner"), _("Lifecycle stage"), _("Source"),
                  _("Tags"), _("External ID"), _("Contacts"), _("Created")]  # fmt: skip
        rows = _company_export_rows(qs, defs, names)
        title = _("Companies")
    else:
        form = ContactFilterForm(query, user=request.user, default_sort="name")
        filters = form.filters()
        qs = contact_list(request.user, filters)
        qs = qs if ids is None else qs.filter(pk__in=ids)
        if form.sort_key == BEST_MATCH:  # the list's order: those whose surname was searched first
            qs = qs.order_by(*best_match_order(filters.q))
        else:
            qs = _export_order(qs, contact_sorts()[form.sort_key])
        header = [_("First name"), _("Last name"), _("Job title"), _("Email"), _("Second email"), _("Phone"),
                  _("Mobile"), _("Company"), _("Company website"), _("Street"), _("Address line 2"), _("City"),
                  _("Region"), _("Postcode"), _("Country"), _("Birth date"), _("Owner"), _("Lifecycle stage"),
                  _("Source"), _("Tags"), _("External ID"), _("Do not call"), _("Do not email"),
                  _("Created")]  # fmt: skip
        rows = _contact_export_rows(qs, defs, names)
        title = _("Contacts")
    header += [defn.label for defn in defs]
    filename = f"{kind}-{stamp}.{fmt}"
    if fmt == "xlsx":
        return exports.xlsx_response(filename, header, rows, title=title, request=request)
    return exports.csv_streaming_response(filename, header, rows, request=request)


@require_GET
def company_export(request: HttpRequest, fmt: str) -> HttpResponse:
    return _export(request, "companies", fmt)


@require_GET
def contact_export(request: HttpRequest, fmt: str) -> HttpResponse:
    return _export(request, "contacts", fmt)


# --- Duplicates and merge -----------------------------------------------------------------


@require_GET
def duplicate_list(request: HttpRequest) -> HttpResponse:
    """Candidate pairs the nightly refresh found, best first, both records visible to the user."""
    form = DuplicateFilterForm(request.GET, user=request.user)
    kind, owner = form.values()
    page = duplicate_candidates(
        request.user, kind=kind, owner=owner, after=clean_text(request.GET.get("after"), name="after", max_length=40)
    )
    params = request.GET.copy()
    params.pop("after", None)
    context = {
        "form": form,
        "kind": kind,
        "page": page,
        "base_query": params.urlencode(),
        "last_refresh": parse_datetime(cache.get(LAST_REFRESH_CACHE_KEY) or ""),
        "can_refresh": request.user.is_admin or request.user.is_manager,
        "nav": "duplicates",
    }
    return render(request, "contacts/duplicate_list.html", context)


@require_POST
def duplicate_dismiss(request: HttpRequest, pk: int) -> HttpResponse:
    candidate = candidate_for_user(request.user, pk)
    duplicate_dismiss_service(actor=request.user, candidate=candidate)
    messages.success(
        request,
        _("“%(a)s” and “%(b)s” marked as not duplicates; they will not be suggested again.")
        % {"a": candidate.first, "b": candidate.second},
    )
    return _back(request, "contacts:duplicates")


@require_POST
def duplicates_refresh_now(request: HttpRequest) -> HttpResponse:
    if not (request.user.is_admin or request.user.is_manager):
        raise PermissionDenied
    with transaction.atomic():
        outbox_enqueue(task=refresh_duplicates.name)  # idempotent: recomputed from scratch
    messages.success(request, _("Refreshing the duplicate candidates. Reload this page in a minute."))
    return redirect("contacts:duplicates")


def _merge(request: HttpRequest, survivor: Company | Contact, loser: Company | Contact) -> HttpResponse:
    form = MergeForm(request.POST or None, survivor=survivor, loser=loser)
    if request.method == "POST" and form.is_valid():
        survivor_version, loser_version = form.versions()
        try:
            record = records_merge(
                actor=request.user,
                survivor=survivor,
                loser=loser,
                choices=form.choices(),
                survivor_version=survivor_version,
                loser_version=loser_version,
            )
        except VersionConflict as conflict:
            messages.warning(
                request,
                _("“%(name)s” changed while you reviewed the merge. Nothing was merged: check the values again.")
                % {"name": conflict.instance},
            )
            return redirect(request.get_full_path())
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(
                request,
                ngettext(
                    "“%(loser)s” merged into “%(survivor)s”. You can undo this for %(days)d day.",
                    "“%(loser)s” merged into “%(survivor)s”. You can undo this for %(days)d days.",
                    settings.MERGE_UNDO_DAYS,
                )
                % {"loser": record.loser_name, "survivor": survivor, "days": settings.MERGE_UNDO_DAYS},
            )
            return redirect(survivor)
    is_company = isinstance(survivor, Company)
    context = {
        "form": form,
        "survivor": survivor,
        "loser": loser,
        "kind": "company" if is_company else "contact",
        "same_fields": merge_same_fields(survivor, loser),
        "moves": merge_preview(loser),
        "undo_days": settings.MERGE_UNDO_DAYS,
        "swap_url": reverse(
            "contacts:company-merge" if is_company else "contacts:contact-merge", args=[loser.pk, survivor.pk]
        ),
        "nav": "duplicates",
    }
    return render(request, "contacts/merge_form.html", context)


def company_merge(request: HttpRequest, pk: int, other: int) -> HttpResponse:
    """Merge company ``other`` into company ``pk``; both must be editable by the user."""
    if pk == other:
        raise Http404
    survivor = company_for_user(request.user, pk, write=True)
    loser = company_for_user(request.user, other, write=True)
    if survivor.archived_at or loser.archived_at:
        raise Http404
    return _merge(request, survivor, loser)


def contact_merge(request: HttpRequest, pk: int, other: int) -> HttpResponse:
    if pk == other:
        raise Http404
    survivor = contact_for_user(request.user, pk, write=True)
    loser = contact_for_user(request.user, other, write=True)
    if survivor.archived_at or loser.archived_at:
        raise Http404
    return _merge(request, survivor, loser)


@require_POST
def merge_undo_view(request: HttpRequest, pk: int) -> HttpResponse:
    record = merge_for_user(request.user, pk)
    try:
        merge_undo(actor=request.user, record=record)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("Merge undone: “%(name)s” is back.") % {"name": record.loser_name})
    return redirect(record.survivor)


# --- Data quality -------------------------------------------------------------------------


@require_GET
def data_quality_view(request: HttpRequest) -> HttpResponse:
    """Per owner and team: records missing email, phone, company or an active owner."""
    quality = data_quality(request.user)
    context = {
        "sections": [(_("Per owner"), quality["owners"]), (_("Per team"), quality["teams"])],
        "totals": quality["totals"],
        "total_rows": [quality["totals"]],
        "nav": "data-quality",
    }
    return render(request, "contacts/data_quality.html", context)


# --- Inline editing -------------------------------------------------------------------------


def _customer_inline_save(update: Any, key: str) -> Any:
    """Save one inline-edited field through ``update`` (``company_update``/``contact_update``)."""

    def save(*, user: Any, record: Company | Contact, name: str, form: Any, version: int | None) -> Any:
        kwargs: dict[str, Any] = {
            "actor": user,
            key: record,
            "version": version,
            "keep_invalid_phone": form.cleaned_data.get("keep_phone_as_typed", False),
        }
        if name == "tags":
            kwargs["tag_names"] = form.cleaned_data["tags"]
        else:
            kwargs[name] = form.cleaned_data[name]
        return update(**kwargs)

    return save


def _inline_tags(record: Company | Contact) -> dict[str, Any]:
    list_name = "contacts:company-list" if isinstance(record, Company) else "contacts:contact-list"
    return {"tags": record_tags(record), "list_url": reverse(list_name)}


register_inline(
    InlineSpec(
        model=Company,
        url_name="contacts:company-inline",
        fields=("owner", "lifecycle_stage", "phone", "email", "tags"),
        form_class=CompanyForm,
        get=lambda user, pk, write: company_for_user(user, pk, write=write, with_tags=True),
        save=_customer_inline_save(services.company_update, "company"),
        duplicates=lambda request, form, record: _company_duplicates(request, form, exclude_pk=record.pk),
        display_template="contacts/partials/inline_display.html",
        display_context=_inline_tags,
    )
)
register_inline(
    InlineSpec(
        model=Contact,
        url_name="contacts:contact-inline",
        fields=("owner", "lifecycle_stage", "phone", "mobile", "email", "tags"),
        form_class=ContactForm,
        get=lambda user, pk, write: contact_for_user(user, pk, write=write, with_tags=True),
        save=_customer_inline_save(services.contact_update, "contact"),
        duplicates=lambda request, form, record: _contact_duplicates(request, form, exclude_pk=record.pk),
        display_template="contacts/partials/inline_display.html",
        display_context=_inline_tags,
    )
)


@require_http_methods(["GET", "POST"])
def company_inline(request: HttpRequest, pk: int, field: str) -> HttpResponse:
    """One field of a company edited in place (``crm.inline``): access as ``company_edit``."""
    return inline_edit_view(request, Company, pk, field)


@require_http_methods(["GET", "POST"])
def contact_inline(request: HttpRequest, pk: int, field: str) -> HttpResponse:
    """One field of a contact edited in place (``crm.inline``): access as ``contact_edit``."""
    return inline_edit_view(request, Contact, pk, field)
