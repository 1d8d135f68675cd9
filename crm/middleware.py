"""Response headers Django's SecurityMiddleware does not set, session idle timeout and two-factor
enforcement; none of them costs a query on an ordinary page."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, resolve_url
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from crm.i18n import activate_for_user
from crm.models import SecurityEventKind
from crm.security import security_event_record, session_is_verified, two_factor_required

LAST_SEEN_KEY = "crm_last_seen"
# Set by the sign-in when "remember me" was ticked: the idle limit is REMEMBER_ME_DAYS.
REMEMBER_KEY = "crm_remember"
# The last-seen time is written at most this often, so pages do not save the session each time.
LAST_SEEN_RESOLUTION = 60


# Headers django-axes and the security log store as text: PostgreSQL text cannot hold NUL.
_TEXT_HEADERS = ("HTTP_USER_AGENT", "HTTP_ACCEPT")


class UserLocaleMiddleware:
    """Activates the signed-in user's language and time zone, chosen in Preferences; after
    LocaleMiddleware (the browser's language stays when the user chose none) and
    authentication. The user row is already loaded: no query."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            activate_for_user(user)
            request.LANGUAGE_CODE = translation.get_language()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


class TextHeadersMiddleware:
    """Drops NUL characters from the headers stored with sign-in attempts, which would
    otherwise fail the insert (a server error) instead of being recorded."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        for name in _TEXT_HEADERS:
            value = request.META.get(name)
            if value and "\x00" in value:
                request.META[name] = value.replace("\x00", "")
        return self.get_response(request)


def idle_limit_seconds(session) -> int:
    """How long a session may go unused: days when "remember me" was ticked, minutes otherwise."""
    if session.get(REMEMBER_KEY) is True:
        return settings.REMEMBER_ME_DAYS * 24 * 60 * 60
    return settings.SESSION_IDLE_MINUTES * 60


def session_remember(session, *, remember: bool) -> None:
    """Keeps the session across browser restarts for REMEMBER_ME_DAYS, or ends it with the browser."""
    if remember:
        session[REMEMBER_KEY] = True
        session.set_expiry(settings.REMEMBER_ME_DAYS * 24 * 60 * 60)
    else:
        session.pop(REMEMBER_KEY, None)
        session.set_expiry(0)


def session_touch(session) -> None:
    session[LAST_SEEN_KEY] = int(time.time())


# Requests a page makes by itself (the bell polls every 30 s) are not activity: an open tab
# would otherwise keep its session alive forever.
IDLE_IGNORED_ROUTES = {"notification-bell"}


class SessionIdleTimeoutMiddleware:
    """Ends a session nobody used for ``SESSION_IDLE_MINUTES`` and renews it on use.

    The last request's time is kept in the session and rewritten only once it is a minute old
    (``SESSION_SAVE_EVERY_REQUEST`` would write the session row on every page)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> HttpResponse | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        now = int(time.time())
        last_seen = request.session.get(LAST_SEEN_KEY)
        if isinstance(last_seen, int) and now - last_seen > idle_limit_seconds(request.session):
            security_event_record(
                kind=SecurityEventKind.SESSION_EXPIRED,
                user=user,
                request=request,
                detail={"idle_minutes": (now - last_seen) // 60},
            )
            logout(request)
            messages.info(request, _("You were signed out after a while without activity. Please sign in again."))
            if getattr(request, "htmx", False):
                response = HttpResponse(status=204)
                response["HX-Redirect"] = resolve_url("login")
                return response
            if request.method == "GET":
                return redirect_to_login(request.get_full_path())
            return redirect("login")
        match = request.resolver_match
        ignored = match is not None and match.url_name in IDLE_IGNORED_ROUTES and isinstance(last_seen, int)
        if not ignored and (not isinstance(last_seen, int) or now - last_seen >= LAST_SEEN_RESOLUTION):
            request.session[LAST_SEEN_KEY] = now
        return None


# Pages an enforced user without a verified session may still open: the two-factor pages,
# signing out, and what needs no sign-in anyway.
_TWO_FACTOR_OPEN_ROUTES = {
    "two-factor",
    "two-factor-setup",
    "two-factor-confirm",
    "two-factor-verify",
    "logout",
    "login",
    "login-code",
}


class TwoFactorMiddleware:
    """Keeps a user who must use two-factor sign-in on the two-factor page until this session
    is verified (enrolment first when they have no authenticator yet). Django admin included:
    its own sign-in form is replaced by the CRM's (crm.urls), and an unverified session of an
    enforced user never reaches it. Reads only the user row and the session."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> HttpResponse | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or session_is_verified(request):
            return None
        if not two_factor_required(user):
            return None
        match = request.resolver_match
        if match is not None and match.url_name in _TWO_FACTOR_OPEN_ROUTES:
            return None
        if request.path.startswith(settings.STATIC_URL):  # Django makes it absolute ("/static/")
            return None
        if getattr(view_func, "login_required", True) is False:  # healthz and other public views
            return None
        response = redirect("two-factor")
        if getattr(request, "htmx", False):
            response["HX-Redirect"] = response["Location"]
        return response


class PermissionsPolicyMiddleware:
    """Sends ``Permissions-Policy`` (settings.PERMISSIONS_POLICY) on every response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.value = settings.PERMISSIONS_POLICY

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if self.value:
            response.headers.setdefault("Permissions-Policy", self.value)
        return response
