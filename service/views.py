from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from contacts.models import Company, Contact
from crm import security
from crm.custom_fields import CustomCells
from crm.models import Team
from crm.params import clean_text, optional_id, parse_choice
from crm.saved_views import Column, columns_for, header_cells, list_state
from crm.versioning import VersionConflict, parse_version
from service import selectors, services
from service.forms import (
    WORKFLOW_STATUSES,
    AssignForm,
    CaseFilterForm,
    CaseForm,
    ReplyForm,
    StatusForm,
    SurveyForm,
    WebCaseForm,
)
from service.models import Case, CaseWebForm


def _case_columns() -> list[Column]:
    builtin = [
        ("customer", gettext_lazy("Customer")),
        ("queue", gettext_lazy("Queue")),
        ("assignee", gettext_lazy("Assignee")),
        ("priority", gettext_lazy("Priority")),
        ("status", gettext_lazy("Status")),
        ("sla", gettext_lazy("SLA")),
        ("opened", gettext_lazy("Opened")),
    ]
    return columns_for(builtin, "service.case")


@require_GET
def case_list(request: HttpRequest) -> HttpResponse:
    state = list_state(request, "cases", columns=_case_columns())
    if state.redirect:
        return state.redirect
    params = state.params
    form = CaseFilterForm(params or None, user=request.user)
    sort = parse_choice(params.get("sort"), selectors.CASE_SORTS.keys(), name="sort", default="newest")
    after = clean_text(request.GET.get("after"), name="after", max_length=500)
    before = clean_text(request.GET.get("before"), name="before", max_length=500)
    if not (after or before or any(value for name, value in params.items() if name != "sort")):
        # No filter, the first page: the active cases the user sees, from the compiled query.
        page = selectors.unfiltered_case_page(request.user, sort=sort)
    else:
        qs = form.apply(Case.objects.visible_to(request.user), request.user)
        page = selectors.case_page(request.user, qs, sort=sort, after=after, before=before)
    querystring = request.GET.copy()
    for key in ("after", "before"):
        querystring.pop(key, None)
    editable = selectors.editable_case_ids(request.user, page.rows)
    return render(
        request,
        "service/case_list.html",
        {
            "form": form,
            "page": page,
            "querystring": querystring.urlencode(),
            "queues": selectors.queue_counts(request.user),
            "current_team": form.cleaned_data.get("team") if form.is_valid() else None,
            "now": timezone.now(),
            "views": state,
            "columns": state.columns,
            "header": header_cells(state),
            "custom_cells": CustomCells("service.case", state.columns, page.rows),
            "editable": editable,
            "any_editable": bool(editable),
        },
    )


@require_http_methods(["GET", "POST"])
def case_create(request: HttpRequest) -> HttpResponse:
    initial: dict = {"priority": "normal", "channel": "phone"}
    teams = list(selectors.queues_for(request.user)[:1])
    if teams:
        initial["team"] = teams[0]
    team_id = optional_id(request.GET, "team")
    if team_id is not None:
        team = selectors.queues_for(request.user).filter(pk=team_id).first()
        if team:
            initial["team"] = team
    company_id, contact_id = optional_id(request.GET, "company"), optional_id(request.GET, "contact")
    if company_id is not None:
        company = Company.objects.visible_to(request.user).filter(pk=company_id).first()
        if company:
            initial["company"] = company
    if contact_id is not None:
        contact = Contact.objects.visible_to(request.user).select_related("company").filter(pk=contact_id).first()
        if contact:
            initial["contact"] = contact
            initial.setdefault("company", contact.company)
    form = CaseForm(request.POST or None, initial=initial, user=request.user)
    if request.method == "POST" and form.is_valid():
        kwargs = form.service_kwargs()
        try:
            case = services.case_create(actor=request.user, **kwargs)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Case opened."))
            return redirect(case)
    return render(request, "service/case_form.html", {"form": form, "case": None})


@require_http_methods(["GET", "POST"])
def case_edit(request: HttpRequest, pk: int) -> HttpResponse:
    case = selectors.case_for_user(request.user, pk, write=True)
    form = CaseForm(request.POST or None, instance=case, user=request.user)
    conflict = None
    if request.method == "POST" and form.is_valid():
        try:
            services.case_update(
                case=case,
                actor=request.user,
                version=parse_version(form.cleaned_data["version"]),
                **form.service_kwargs(),
            )
        except VersionConflict as exc:
            conflict = exc
            # The next save is a deliberate "keep mine" after reading what changed.
            data = request.POST.copy()
            data["version"] = str(exc.version)
            form = CaseForm(data, instance=Case.objects.get(pk=case.pk), user=request.user)
            form.is_valid()
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Case saved."))
            return redirect(case)
    if request.method == "POST":
        case = selectors.case_for_user(request.user, pk)
    status = 409 if conflict else 200
    return render(request, "service/case_form.html", {"form": form, "case": case, "conflict": conflict}, status=status)


@require_GET
def case_detail(request: HttpRequest, pk: int) -> HttpResponse:
    case = selectors.case_for_user(request.user, pk)
    can_edit = selectors.can_edit_case(request.user, case)
    types = selectors.conversation_types() if can_edit else []
    return render(
        request,
        "service/case_detail.html",
        {
            "case": case,
            "can_edit": can_edit,
            "conversation": selectors.case_conversation(case),
            "timers": selectors.case_timers(case),
            "reply_form": ReplyForm(types=types, initial={"type": "email"}) if can_edit else None,
            "assign_form": AssignForm(case=case, initial={"assignee": case.assignee_id}) if can_edit else None,
            "statuses": WORKFLOW_STATUSES,
            "surveys": list(case.survey_tokens.order_by("-created_at")[:3]),
            "now": timezone.now(),
        },
    )


@require_POST
def case_status(request: HttpRequest, pk: int) -> HttpResponse:
    case = selectors.case_for_user(request.user, pk, write=True)
    form = StatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a status."))
        return redirect(case)
    case = services.case_set_status(case=case, actor=request.user, status=form.cleaned_data["status"])
    messages.success(request, _("Status: %(status)s.") % {"status": case.get_status_display()})
    return redirect(case)


@require_POST
def case_assign(request: HttpRequest, pk: int) -> HttpResponse:
    case = selectors.case_for_user(request.user, pk, write=True)
    if request.POST.get("take"):
        queue = Team.objects.filter(pk=case.team_id)
        if not selectors.queue_members(queue).filter(pk=request.user.pk).exists():
            raise PermissionDenied
        assignee = request.user
    else:
        form = AssignForm(request.POST, case=case)
        if not form.is_valid():
            messages.error(request, _("Choose someone in the queue's team."))
            return redirect(case)
        assignee = form.cleaned_data["assignee"]
    services.case_assign(case=case, actor=request.user, assignee=assignee)
    messages.success(request, _("Assignee saved."))
    return redirect(case)


@require_POST
def case_reply(request: HttpRequest, pk: int) -> HttpResponse:
    case = selectors.case_for_user(request.user, pk, write=True)
    form = ReplyForm(request.POST, types=selectors.conversation_types())
    if form.is_valid():
        services.case_log_activity(
            case=case,
            actor=request.user,
            type=form.cleaned_data["type"],
            subject=form.cleaned_data["subject"],
            body=form.cleaned_data["body"],
        )
        messages.success(request, _("Added to the conversation."))
    else:
        messages.error(request, _("A reply needs a kind and a subject."))
    return redirect(case)


@require_GET
def contact_options(request: HttpRequest) -> HttpResponse:
    """The contacts the case form offers for the chosen company (htmx, on company change)."""
    company_id = optional_id(request.GET, "company")
    contacts = (
        Contact.objects.visible_to(request.user).filter(company_id=company_id).order_by("last_name", "first_name", "id")
        if company_id is not None
        else Contact.objects.none()
    )
    return render(request, "service/partials/contact_options.html", {"contacts": contacts[:500]})


# --- Satisfaction survey (public: no sign-in, the token is the key) --------------------------


def _survey_gone(request: HttpRequest) -> HttpResponse:
    return render(request, "service/survey_gone.html", status=404)


@login_not_required
@require_http_methods(["GET", "POST"])
def survey(request: HttpRequest, token: str) -> HttpResponse:
    if len(token) > 100 or "\x00" in token:
        raise Http404
    try:
        row = services.survey_lookup(token=token)
    except services.SurveyGone:
        return _survey_gone(request)
    form = SurveyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.survey_answer(token=token, score=form.cleaned_data["score"], comment=form.cleaned_data["comment"])
        except services.SurveyGone:
            return _survey_gone(request)
        return render(request, "service/survey_thanks.html", {"case": row.case})
    return render(request, "service/survey.html", {"form": form, "case": row.case})


# --- Public web form (no sign-in) -------------------------------------------------------------


@login_not_required
@require_http_methods(["GET", "POST"])
def web_form(request: HttpRequest, key: str) -> HttpResponse:
    """A customer opens a case. Bots that fill the honeypot get 400 and nothing is stored;
    more than ``WEB_CASE_LIMIT`` submissions an hour from one address get 429."""
    web = (
        CaseWebForm.objects.select_related("team").filter(key=key[:40], active=True).first()
        if "\x00" not in key
        else None
    )
    if web is None:
        raise Http404
    form = WebCaseForm(request.POST or None)
    if request.method == "POST":
        ip = security.client_ip(request) or "-"
        if security.rate_limit_hit(scope="web-case", key=ip, limit=settings.WEB_CASE_LIMIT, window_seconds=3600):
            message = _("Too many requests from your address. Please try again in an hour.")
            return render(request, "service/web_form.html", {"form": form, "web": web, "error": message}, status=429)
        if request.POST.get("website"):
            message = _("Your request could not be accepted.")
            return render(request, "service/web_form.html", {"form": form, "web": web, "error": message}, status=400)
        if not form.is_valid():
            return render(request, "service/web_form.html", {"form": form, "web": web}, status=400)
        try:
            case = services.case_create_from_web(
                web_form=web,
                name=form.cleaned_data["name"],
                email=form.cleaned_data["email"],
                subject=form.cleaned_data["subject"],
                description=form.cleaned_data["description"],
            )
        except ValidationError as exc:
            return render(
                request, "service/web_form.html", {"form": form, "web": web, "error": exc.messages[0]}, status=400
            )
        return render(request, "service/web_form_thanks.html", {"web": web, "case": case})
    return render(request, "service/web_form.html", {"form": form, "web": web})
