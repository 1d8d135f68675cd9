from __future__ import annotations

from functools import cache
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.contrib.staticfiles import finders
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.template import loader
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from crm import saved_views, services
from crm.bulk_actions import (
    BulkInputError,
    BulkKind,
    bulk_job_create,
    bulk_job_run,
    bulk_job_undo_run,
    bulk_job_undo_start,
    bulk_kind,
    bulk_status_context,
    last_job,
)
from crm.forms import CustomFieldForm, PreferencesForm, SavedViewForm
from crm.i18n import language_codes
from crm.models import BulkJob, CustomField, CustomFieldModel, Notification
from crm.params import BadParameter, clean_text, id_or_none, optional_id, safe_next
from crm.search import search_all
from crm.security import two_factor_enabled
from crm.selectors import health_status, notification_for_user


@cache
def _favicon_bytes() -> bytes:
    path = finders.find("img/favicon.ico")
    if not path:
        raise Http404
    with open(path, "rb") as handle:
        return handle.read()


@login_not_required
@require_GET
def favicon(request: HttpRequest) -> HttpResponse:
    """``/favicon.ico``: browsers ask for it on pages without an icon link (Django admin)."""
    response = HttpResponse(_favicon_bytes(), content_type="image/vnd.microsoft.icon")
    response["Cache-Control"] = "public, max-age=86400"
    return response


@login_not_required
@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    status = health_status()
    healthy = all(value == "ok" for value in status.values())
    return JsonResponse({"status": "ok" if healthy else "error", **status}, status=200 if healthy else 503)


@require_GET
def search(request: HttpRequest) -> HttpResponse:
    query = clean_text(request.GET.get("q"), name="q", max_length=100)
    sections = search_all(user=request.user, query=query) if len(query) >= 2 else []
    return render(
        request,
        "crm/search.html",
        {"query": query, "sections": sections, "too_short": 0 < len(query) < 2},
    )


@require_GET
def notification_list(request: HttpRequest) -> HttpResponse:
    qs = Notification.objects.filter(user=request.user)
    if request.GET.get("unread"):
        qs = qs.filter(read_at__isnull=True)
    page = Paginator(qs, 30).get_page(request.GET.get("page"))
    return render(request, "crm/notification_list.html", {"page": page, "only_unread": bool(request.GET.get("unread"))})


@require_GET
def notification_open(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark a notification read and follow its link (only to this site)."""
    notification = notification_for_user(request.user, pk)
    services.notification_mark_read(notification=notification)
    if notification.link and url_has_allowed_host_and_scheme(notification.link, allowed_hosts={request.get_host()}):
        return redirect(notification.link)
    return redirect("notification-list")


@require_POST
def notification_mark_read(request: HttpRequest, pk: int) -> HttpResponse:
    notification = notification_for_user(request.user, pk)
    services.notification_mark_read(notification=notification)
    if request.htmx:
        return render(request, "crm/partials/notification_row.html", {"notification": notification})
    return redirect("notification-list")


@require_POST
def notification_mark_all_read(request: HttpRequest) -> HttpResponse:
    count = services.notifications_mark_all_read(user=request.user)
    messages.success(
        request,
        ngettext("%(count)d notification marked read.", "%(count)d notifications marked read.", count)
        % {"count": count},
    )
    return redirect("notification-list")


@require_GET
def notification_bell(request: HttpRequest) -> HttpResponse:
    """The bell fragment, polled by htmx so new notifications appear without a reload."""
    latest = Notification.objects.filter(user=request.user, read_at__isnull=True)[:5]
    return render(request, "partials/notification_bell.html", {"latest_notifications": latest})


@login_not_required
@require_POST
def language_set(request: HttpRequest) -> HttpResponse:
    """The language switcher (user menu, sign-in page): remembers the choice in a cookie and,
    for a signed-in user, in their preferences; an empty choice follows the browser again."""
    language = request.POST.get("language", "")
    if language and language not in language_codes():
        return HttpResponseBadRequest(_("Unknown language."))
    if request.user.is_authenticated:
        services.user_language_set(user=request.user, language=language)
    next_url = safe_next(request, "")
    if not next_url:
        # Back to the page the switcher was on (an absolute URL of this site), else home.
        referer = request.META.get("HTTP_REFERER", "")
        same_site = referer.startswith(("http://", "https://")) and url_has_allowed_host_and_scheme(
            referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
        next_url = referer if same_site and "\x00" not in referer else reverse("home")
    response = redirect(next_url)
    if language:
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            language,
            max_age=settings.LANGUAGE_COOKIE_AGE,
            samesite="Lax",
            secure=request.is_secure(),
            httponly=True,
        )
    else:
        response.delete_cookie(settings.LANGUAGE_COOKIE_NAME)
    return response


def preferences(request: HttpRequest) -> HttpResponse:
    form = PreferencesForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Preferences saved."))
        return redirect("preferences")
    return render(
        request, "crm/preferences.html", {"form": form, "two_factor_enabled": two_factor_enabled(request.user)}
    )


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """The 400 page, rendered with the request (Django's own renders it without, which would
    drop the navigation); it names the parameter a ``BadParameter`` refused."""
    name = exception.name if isinstance(exception, BadParameter) else ""
    try:
        return render(request, "400.html", {"bad_parameter": name}, status=400)
    except Exception:  # noqa: BLE001  (a disallowed host, the database gone: the page without the shell)
        return HttpResponseBadRequest(loader.get_template("400.html").render({"bad_parameter": name}))


# --- Saved list views -----------------------------------------------------------------------

_LIST_URLS = {
    "companies": "contacts:company-list",
    "contacts": "contacts:contact-list",
    "deals": "deals:list",
    "activities": "activities:list",
    "cases": "service:list",
}


@require_POST
def saved_view_save(request: HttpRequest) -> HttpResponse:
    """Save the list's current view as a new one, or (``view`` given) update the user's own."""
    form = SavedViewForm(request.POST, user=request.user)
    view_id = optional_id(request.POST, "view")
    view = saved_views.saved_view_for_user(request.user, view_id, write=True) if view_id else None
    if not form.is_valid():
        messages.error(
            request,
            _("The view was not saved: %(errors)s")
            % {"errors": " ".join(f"{form[name].label}: {' '.join(errors)}" for name, errors in form.errors.items())},
        )
        list_name = form.cleaned_data.get("list_name") or "companies"
        return redirect(safe_next(request, reverse(_LIST_URLS[list_name])))
    data = form.cleaned_data
    if view is not None and view.list_name != data["list_name"]:
        raise Http404
    view = saved_views.saved_view_save(
        actor=request.user,
        list_name=data["list_name"],
        name=data["name"],
        query=data["query"],
        columns=data["columns"],
        team=data["team"],
        view=view,
    )
    messages.success(request, _("View “%(name)s” saved.") % {"name": view.name})
    return redirect(f"{reverse(_LIST_URLS[view.list_name])}?view={view.pk}")


@require_POST
def saved_view_delete(request: HttpRequest, pk: int) -> HttpResponse:
    view = saved_views.saved_view_for_user(request.user, pk, write=True)
    saved_views.saved_view_delete(actor=request.user, view=view)
    messages.success(request, _("View “%(name)s” deleted.") % {"name": view.name})
    return redirect(f"{reverse(_LIST_URLS[view.list_name])}?view=all")


# --- Settings: custom fields (admins) -------------------------------------------------------


def _admin_only(request: HttpRequest) -> None:
    if not request.user.is_admin:
        raise PermissionDenied


@require_GET
def custom_field_list(request: HttpRequest) -> HttpResponse:
    """Every custom field, grouped by record, for admins (the same as Django admin's list)."""
    _admin_only(request)
    groups = []
    fields = list(CustomField.objects.order_by("model", "position", "id"))
    for value, label in CustomFieldModel.choices:
        groups.append({"label": label, "model": value, "fields": [f for f in fields if f.model == value]})
    return render(request, "crm/custom_field_list.html", {"groups": groups})


def custom_field_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    _admin_only(request)
    field = get_object_or_404(CustomField, pk=pk) if pk is not None else None
    initial = {}
    if field is None and request.GET.get("model") in CustomFieldModel.values:
        initial["model"] = request.GET["model"]
    form = CustomFieldForm(request.POST or None, instance=field, initial=initial)
    if request.method == "POST" and form.is_valid():
        saved = form.save()
        messages.success(request, _("Custom field “%(label)s” saved.") % {"label": saved.label})
        return redirect("custom-field-list")
    return render(request, "crm/custom_field_form.html", {"form": form, "field": field})


# --- Bulk actions on lists (crm.bulk_actions) --------------------------------------------------


def _bulk_ids(request: HttpRequest, kind: BulkKind) -> list[int]:
    """The ticked rows, limited to what the user may see."""
    wanted = {pk for pk in map(id_or_none, request.POST.getlist("ids")) if pk is not None}
    if not wanted:
        return []
    visible = kind.model.objects.visible_to(request.user).filter(pk__in=wanted)
    return sorted(visible.values_list("pk", flat=True))


@require_POST
def bulk_apply(request: HttpRequest, kind: str) -> HttpResponse:
    """Run a list's bulk action on the ticked rows, or (``scope=all``, after a confirmation
    showing how many) on every row matching the list's filters."""
    spec = bulk_kind(kind)
    if spec is None:
        raise Http404
    back = safe_next(request, spec.list_url_name)
    query = QueryDict(clean_text(request.POST.get("query"), name="query", max_length=2000))
    if request.POST.get("action") == "export" and spec.export is not None:
        if request.POST.get("scope") == "all":
            return spec.export(request, query, None)
        ids = _bulk_ids(request, spec)
        if ids:
            return spec.export(request, query, ids)
        messages.error(request, _("Tick at least one row first."))
        return redirect(back)
    action = spec.actions.get(request.POST.get("action", ""))
    if action is None:
        messages.error(request, _("Choose what to do with the rows first."))
        return redirect(back)
    try:
        params = action.clean(request.user, request.POST)
    except BulkInputError as exc:
        messages.error(request, str(exc))
        return redirect(back)
    scope_all = request.POST.get("scope") == "all"
    if scope_all:
        matching = spec.matching(request.user, query)
    else:
        matching = spec.model.objects.filter(pk__in=_bulk_ids(request, spec))
    if (scope_all or action.always_confirm) and not request.POST.get("confirmed"):
        count = matching.count()
        context = {
            "spec": spec,
            "action": action,
            "count": count,
            "noun": spec.noun(count),
            "detail": action.describe(params),
            "fields": [
                (name, request.POST.getlist(name))
                for name in ("action", "query", "next", "scope", "ids", *action.params)
            ],
            "scope_all": scope_all,
            "undoable": action.undo is not None,
            "back": back,
            "sync_max": settings.BULK_SYNC_MAX,
        }
        return render(request, "crm/bulk_confirm.html", context)
    ids = list(matching.order_by().values_list("pk", flat=True))
    if not ids:
        messages.error(request, _("Tick at least one row first."))
        return redirect(back)
    job = bulk_job_create(user=request.user, kind=spec, action=action, params=params, ids=ids)
    if job.total <= settings.BULK_SYNC_MAX:
        bulk_job_run(job_id=job.pk)
    return redirect(back)


@require_GET
def bulk_status(request: HttpRequest, pk: int) -> HttpResponse:
    """The list's bulk banner (polled while a job runs)."""
    job = BulkJob.objects.filter(pk=pk, user=request.user).defer("ids", "previous").first()
    if job is None:
        raise Http404
    current = urlsplit(request.headers.get("HX-Current-URL", ""))
    next_url = f"{current.path}?{current.query}" if current.query else current.path
    context = {**bulk_status_context(job), "polled": True, "next_url": next_url}
    return render(request, "partials/bulk_status.html", context)


@require_POST
def bulk_undo(request: HttpRequest, pk: int) -> HttpResponse:
    """Undo the user's last bulk action on a list: every changed record gets its previous values back."""
    job = BulkJob.objects.filter(pk=pk, user=request.user).defer("ids").first()
    if job is None:
        raise Http404
    spec = bulk_kind(job.kind)
    back = safe_next(request, spec.list_url_name if spec else "home")
    latest = last_job(request.user, job.kind)
    if latest is None or latest.pk != job.pk:
        messages.error(request, _("Only the last bulk action on a list can be undone."))
        return redirect(back)
    try:
        job = bulk_job_undo_start(job=job)
    except BulkInputError as exc:
        messages.error(request, str(exc))
        return redirect(back)
    if job.changed <= settings.BULK_SYNC_MAX:
        bulk_job_undo_run(job_id=job.pk)
    return redirect(back)
