from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from contacts import services
from contacts.duplicates import Duplicate, company_duplicates, contact_duplicates
from contacts.forms import (
    CompanyFilterForm,
    CompanyForm,
    CompanyQuickForm,
    ContactFilterForm,
    ContactForm,
    ContactQuickForm,
    ReassignForm,
    parse_tags,
)
from contacts.keyset import SortOption, capped_count, for_search, keyset_page
from contacts.models import Company, Contact
from contacts.selectors import (
    COMPANY_SORTS,
    CONTACT_SORTS,
    company_contacts,
    company_for_user,
    company_list,
    company_options,
    contact_for_user,
    contact_list,
    history_entries,
    record_tags,
    tag_suggestions,
)

PAGE_SIZE = 50
# Changing one of these on an existing record is when a possible duplicate is worth a look.
COMPANY_IDENTITY = {"name", "domain", "phone", "email"}
CONTACT_IDENTITY = {"first_name", "last_name", "email", "secondary_email", "phone", "mobile", "company"}


def _list_context(request: HttpRequest, form: Any, qs: Any, sorts: dict[str, SortOption]) -> dict[str, Any]:
    """What both list pages share: the keyset page, the capped count and the sort/page links."""
    sort = form.sort_key
    page = keyset_page(
        qs,
        for_search(sorts[sort]) if form.cleaned_data.get("q") else sorts[sort],
        after=request.GET.get("after", "")[:200],
        before=request.GET.get("before", "")[:200],
        size=PAGE_SIZE,
    )
    count, more = capped_count(qs)
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
        "sort": sort,
        "sort_links": sort_links,
        "page_query": params.urlencode(),
        "filter_count": form.active_count,
        "assignable_users": request.user.visible_users,
        "any_editable": any(row.can_edit for row in page.rows),
    }


def _back(request: HttpRequest, fallback: str) -> HttpResponse:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect(fallback)


# --- Companies ----------------------------------------------------------------------------


@require_GET
def company_list_view(request: HttpRequest) -> HttpResponse:
    form = CompanyFilterForm(request.GET, user=request.user, default_sort="name")
    qs = company_list(request.user, form.filters())
    context = _list_context(request, form, qs, COMPANY_SORTS)
    context.update(nav="companies", quick_form=CompanyQuickForm(user=request.user, auto_id="quick_%s"))
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
        exclude_pk=exclude_pk,
    )


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
    company = company_for_user(request.user, pk, with_tags=True)
    context = {
        "company": company,
        "tags": record_tags(company),
        "contacts": company_contacts(company),
        "history": history_entries(company, user=request.user),
        "can_edit": request.user.can_edit_owner(company.owner_id),
        "nav": "companies",
    }
    return render(request, "contacts/company_detail.html", context)


def company_edit(request: HttpRequest, pk: int) -> HttpResponse:
    company = company_for_user(request.user, pk, write=True)
    form = CompanyForm(request.POST or None, instance=company, user=request.user)
    duplicates: list[Duplicate] = []
    if request.method == "POST" and form.is_valid():
        duplicates = _company_duplicates(request, form, exclude_pk=company.pk)
        if not duplicates:
            services.company_update(actor=request.user, company=company, **form.service_kwargs())
            messages.success(request, _("Changes saved."))
            return redirect(company)
    context = {"form": form, "company": company, "duplicates": duplicates, "nav": "companies"}
    return render(request, "contacts/company_form.html", context)


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
    form = ReassignForm(request.POST, user=request.user, model=Company)
    if form.is_valid():
        count = services.companies_reassign(
            actor=request.user,
            companies=form.cleaned_data["ids"],  # already limited to what the user may edit
            owner=form.cleaned_data["owner"],
        )
        messages.success(
            request,
            _("%(count)d companies assigned to %(owner)s.") % {"count": count, "owner": form.cleaned_data["owner"]},
        )
    else:
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
    return _back(request, "contacts:company-list")


@require_GET
def company_picker_options(request: HttpRequest) -> HttpResponse:
    """<option>s for the contact form's company select, filtered by what was typed."""
    query = request.GET.get("company_q", "")[:100]
    return render(
        request,
        "contacts/partials/company_options.html",
        {"companies": company_options(request.user, query), "query": query.strip()},
    )


# --- Contacts -----------------------------------------------------------------------------


@require_GET
def contact_list_view(request: HttpRequest) -> HttpResponse:
    form = ContactFilterForm(request.GET, user=request.user, default_sort="name")
    filters = form.filters()
    qs = contact_list(request.user, filters)
    context = _list_context(request, form, qs, CONTACT_SORTS)
    context.update(
        nav="contacts",
        company_filter=filters.company,
        quick_form=ContactQuickForm(
            user=request.user, auto_id="quick_%s", initial={"company": filters.company.pk if filters.company else None}
        ),
    )
    return render(request, "contacts/contact_list.html", context)


def contact_create(request: HttpRequest) -> HttpResponse:
    form_class = ContactQuickForm if "quick" in request.POST else ContactForm
    initial = {"company": request.GET.get("company")} if request.GET.get("company", "").isdigit() else {}
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
    contact = contact_for_user(request.user, pk, with_tags=True)
    context = {
        "contact": contact,
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
    if request.method == "POST" and form.is_valid():
        duplicates = _contact_duplicates(request, form, exclude_pk=contact.pk)
        if not duplicates:
            services.contact_update(actor=request.user, contact=contact, **form.service_kwargs())
            messages.success(request, _("Changes saved."))
            return redirect(contact)
    context = {"form": form, "contact": contact, "duplicates": duplicates, "nav": "contacts"}
    return render(request, "contacts/contact_form.html", context)


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
    form = ReassignForm(request.POST, user=request.user, model=Contact)
    if form.is_valid():
        count = services.contacts_reassign(
            actor=request.user,
            contacts=form.cleaned_data["ids"],  # already limited to what the user may edit
            owner=form.cleaned_data["owner"],
        )
        messages.success(
            request,
            _("%(count)d contacts assigned to %(owner)s.") % {"count": count, "owner": form.cleaned_data["owner"]},
        )
    else:
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
    return _back(request, "contacts:contact-list")


# --- Tags ---------------------------------------------------------------------------------


@require_GET
def tag_suggest(request: HttpRequest) -> HttpResponse:
    """<option>s for the tags <datalist>: the tags typed so far plus a completion of the last."""
    typed = request.GET.get("tags", request.GET.get("tag", ""))[:600]
    done = parse_tags(typed)
    last = "" if typed.rstrip().endswith(",") or not done else done.pop()
    prefix = ", ".join(done)
    taken = {name.lower() for name in done}
    options = [f"{prefix}, {name}" if prefix else name for name in tag_suggestions(last) if name.lower() not in taken]
    return render(request, "contacts/partials/tag_options.html", {"options": options})
