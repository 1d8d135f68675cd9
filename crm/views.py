from __future__ import annotations

from functools import cache

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.contrib.staticfiles import finders
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import redirect, render
from django.template import loader
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from crm import services
from crm.forms import PreferencesForm
from crm.i18n import language_codes
from crm.models import Notification
from crm.params import BadParameter, clean_text, safe_next
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
