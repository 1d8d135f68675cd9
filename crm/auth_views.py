"""Sign-in (password, then the second factor when the user has one), password change and
reset, two-factor enrolment, and "sign out everywhere".

Throttling: django-axes counts failed sign-ins per username and per IP address (the password
step through ``authenticate``, the code step through ``user_login_failed``) and answers
``lockout_response`` once either is over ``LOGIN_FAILURE_LIMIT``; password reset requests are
counted per IP and per email by ``crm.security.rate_limit_hit``.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, logout
from django.contrib.auth import login as auth_login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.contrib.auth.signals import user_login_failed
from django.core.validators import MaxLengthValidator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_static.models import StaticDevice

from crm import security
from crm.middleware import session_remember
from crm.models import SecurityEventKind, User
from crm.tasks import send_password_reset

log = logging.getLogger(__name__)

# The user who passed the password step and still owes a code: {"user_id", "backend", "at", "next"}.
PENDING_KEY = "crm_2fa_pending"
PENDING_SECONDS = 5 * 60


def _safe_next(request: HttpRequest, candidate: str) -> str:
    # A path only: ``redirect("x")`` would read a bare word as a view name.
    if candidate.startswith("/") and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return ""


def _cooloff_minutes() -> int:
    return settings.LOGIN_COOLOFF_MINUTES


def lockout_response(request: HttpRequest, original_response: HttpResponse | None, credentials: dict | None):
    """django-axes' answer to a locked-out sign-in: the sign-in page with the reason (HTTP 429)."""
    request.session.pop(PENDING_KEY, None)
    minutes = _cooloff_minutes()
    message = ngettext(
        "Too many failed sign-in attempts for this account or from your network. "
        "Sign-in is blocked for %(minutes)d minute; try again later or reset your password.",
        "Too many failed sign-in attempts for this account or from your network. "
        "Sign-in is blocked for %(minutes)d minutes; try again later or reset your password.",
        minutes,
    ) % {"minutes": minutes}
    form = SignInForm(request)
    return render(
        request,
        "registration/login.html",
        {"form": form, "locked_message": message, "product_name": settings.PRODUCT_NAME},
        status=429,
    )


class SignInForm(AuthenticationForm):
    """Django's sign-in form, with the username's length enforced: Django only sets the
    widget's maxlength, and a longer name would reach django-axes' 255-character column."""

    remember = forms.BooleanField(
        label=gettext_lazy("Remember me"),
        required=False,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        days = settings.REMEMBER_ME_DAYS
        self.fields["remember"].help_text = ngettext(
            "Stay signed in on this device for %(days)d day. Leave it off on a shared computer.",
            "Stay signed in on this device for %(days)d days. Leave it off on a shared computer.",
            days,
        ) % {"days": days}
        field = self.fields["username"]
        field.validators.append(MaxLengthValidator(field.max_length or 150))


@login_not_required
@sensitive_post_parameters()
@csrf_protect
@never_cache
def sign_in(request: HttpRequest) -> HttpResponse:
    next_url = _safe_next(request, request.POST.get("next") or request.GET.get("next", ""))
    if request.user.is_authenticated:
        return redirect(next_url or settings.LOGIN_REDIRECT_URL)
    form = SignInForm(request, data=request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.get_user()
        if security.two_factor_enabled(user):
            request.session[PENDING_KEY] = {
                "user_id": user.pk,
                "backend": user.backend,
                "at": int(time.time()),
                "next": next_url,
                "remember": bool(form.cleaned_data.get("remember")),
            }
            return redirect("login-code")
        auth_login(request, user)
        session_remember(request.session, remember=bool(form.cleaned_data.get("remember")))
        return redirect(next_url or settings.LOGIN_REDIRECT_URL)
    return render(
        request, "registration/login.html", {"form": form, "next": next_url, "product_name": settings.PRODUCT_NAME}
    )


class CodeForm(forms.Form):
    code = forms.CharField(
        label=gettext_lazy("Code"),
        max_length=32,
        help_text=gettext_lazy("The 6-digit code from your authenticator app, or one of your recovery codes."),
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True, "inputmode": "text"}),
    )

    def clean_code(self) -> str:
        code = self.cleaned_data["code"]
        if "\x00" in code:
            raise forms.ValidationError(_("Enter the code as shown."))
        return code


def _pending_user(request: HttpRequest) -> tuple[User, dict] | None:
    pending = request.session.get(PENDING_KEY)
    if not isinstance(pending, dict) or int(time.time()) - int(pending.get("at", 0)) > PENDING_SECONDS:
        return None
    user = get_user_model()._default_manager.filter(pk=pending.get("user_id"), is_active=True).first()
    return (user, pending) if user is not None else None


@login_not_required
@sensitive_post_parameters()
@csrf_protect
@never_cache
def sign_in_code(request: HttpRequest) -> HttpResponse:
    """The second step: a code from the authenticator app or a recovery code."""
    found = _pending_user(request)
    if found is None:
        request.session.pop(PENDING_KEY, None)
        messages.info(request, _("Please sign in again."))
        return redirect("login")
    user, pending = found
    credentials = {"username": user.get_username()}
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if AxesProxyHandler.is_locked(request, credentials):
            return lockout_response(request, None, credentials)
        device = security.two_factor_verify(user=user, code=form.cleaned_data["code"], request=request)
        if device is not None:
            request.session.pop(PENDING_KEY, None)
            user.backend = pending["backend"]
            request._crm_sign_in_factor = "recovery_code" if isinstance(device, StaticDevice) else "totp"
            auth_login(request, user)
            session_remember(request.session, remember=pending.get("remember") is True)
            request.session[DEVICE_ID_SESSION_KEY] = device.persistent_id
            if isinstance(device, StaticDevice):
                messages.warning(
                    request,
                    _("That recovery code is now used up. Make new codes on the two-factor page."),
                )
            return redirect(pending.get("next") or settings.LOGIN_REDIRECT_URL)
        user_login_failed.send(
            sender=__name__, credentials={**credentials, "step": "code"}, request=request
        )  # django-axes counts it; crm.signals logs it
        form.add_error("code", _("That code is not right, or was already used. Wait for a new code and try again."))
    return render(request, "registration/login_code.html", {"form": form}, status=200)


# --- Passwords ----------------------------------------------------------------------------


class PasswordChangeView(auth_views.PasswordChangeView):
    def form_valid(self, form):
        response = super().form_valid(form)  # keeps this session (update_session_auth_hash)
        security.security_event_record(
            kind=SecurityEventKind.PASSWORD_CHANGED, user=self.request.user, request=self.request
        )
        return response


class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset form: the same answer, in the same time, whether or not the address
    belongs to anyone — looking the address up, writing and sending the email all happen in
    a Celery task (``crm.tasks.send_password_reset``); the request only queues it."""

    def form_valid(self, form):
        email = form.cleaned_data["email"]
        user = next(iter(form.get_users(email)), None)
        security.security_event_record(
            kind=SecurityEventKind.PASSWORD_RESET_REQUESTED,
            user=user,
            username="" if user else email,
            request=self.request,
            detail={"email": email[:254], "known": user is not None},
        )
        kwargs = {"email": email, "domain": self.request.get_host(), "use_https": self.request.is_secure()}
        try:
            send_password_reset.delay(**kwargs)
        except Exception:  # the broker is down: send now rather than lose the email
            log.exception("password reset email could not be queued; sending it during the request")
            send_password_reset(**kwargs)
        return redirect(self.get_success_url())


_reset_view = PasswordResetView.as_view()


@login_not_required
@csrf_protect
def password_reset(request: HttpRequest) -> HttpResponse:
    """The reset form behind a per-IP and a per-email limit (``PASSWORD_RESET_LIMIT`` an hour).
    Both counters move on every request, for any address, so the limit reveals nothing about
    which addresses exist."""
    if request.method == "POST":
        ip = security.client_ip(request) or "-"
        email = request.POST.get("email", "").strip().lower()[:254]
        limit = settings.PASSWORD_RESET_LIMIT
        over_ip = security.rate_limit_hit(scope="reset-ip", key=ip, limit=limit, window_seconds=3600)
        over_email = security.rate_limit_hit(scope="reset-email", key=email, limit=limit, window_seconds=3600)
        if over_ip or over_email:
            form = PasswordResetForm(request.POST)
            message = _("Too many password reset requests. Please wait an hour and try again.")
            return render(
                request, "registration/password_reset_form.html", {"form": form, "limited_message": message}, status=429
            )
    return _reset_view(request)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    def form_valid(self, form):
        response = super().form_valid(form)
        # Whoever set a new password from the emailed link may sign in with it at once: the
        # username's failed attempts (not its addresses') are cleared.
        AxesProxyHandler.reset_attempts(username=form.user.get_username())
        security.security_event_record(kind=SecurityEventKind.PASSWORD_RESET, user=form.user, request=self.request)
        return response


# --- Two-factor enrolment and sessions ----------------------------------------------------


class ConfirmCodeForm(forms.Form):
    code = forms.CharField(
        label=gettext_lazy("Code from the app"),
        max_length=10,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class DisableForm(forms.Form):
    secret = forms.CharField(
        label=gettext_lazy("Your password, or a code from the app"),
        max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


@never_cache
def two_factor(request: HttpRequest) -> HttpResponse:
    """Two-factor sign-in: its state, enrolment (QR code and secret, confirmed with a code),
    turning it off, and — for a session opened before it — verifying this session."""
    user = request.user
    enabled = security.two_factor_enabled(user)
    context: dict[str, Any] = {
        "enabled": enabled,
        "required": security.two_factor_required(user),
        "verified": security.session_is_verified(request),
    }
    if enabled:
        context["recovery_codes_left"] = sum(
            device.token_set.count() for device in StaticDevice.objects.filter(user=user, confirmed=True)
        )
        context["disable_form"] = DisableForm()
        context["verify_form"] = CodeForm()
        codes = request.session.pop("crm_new_recovery_codes", None)
        if codes:
            context["new_recovery_codes"] = codes
    else:
        device = security.pending_device(user)
        if device is not None:
            context.update(
                pending=True,
                qr_svg=security.totp_qr_svg(device),
                secret=security.totp_secret(device),
                confirm_form=ConfirmCodeForm(),
            )
    return render(request, "crm/two_factor.html", context)


@require_POST
def two_factor_setup(request: HttpRequest) -> HttpResponse:
    if security.two_factor_enabled(request.user):
        return redirect("two-factor")
    security.two_factor_begin(user=request.user)
    return redirect("two-factor")


@require_POST
def two_factor_confirm(request: HttpRequest) -> HttpResponse:
    device = security.pending_device(request.user)
    if device is None:
        return redirect("two-factor")
    form = ConfirmCodeForm(request.POST)
    codes = None
    if form.is_valid():
        codes = security.two_factor_confirm(
            user=request.user, device=device, code=form.cleaned_data["code"], request=request
        )
    if codes is None:
        messages.error(request, _("That code is not right. Check the time on your phone and try the newest code."))
        return redirect("two-factor")
    request.session["crm_new_recovery_codes"] = codes
    messages.success(request, _("Two-factor sign-in is on."))
    return redirect("two-factor")


@require_POST
def two_factor_verify_session(request: HttpRequest) -> HttpResponse:
    """Verify a session opened before two-factor sign-in was turned on (or by an admin's tool)."""
    form = CodeForm(request.POST)
    if form.is_valid():
        device = security.two_factor_verify(user=request.user, code=form.cleaned_data["code"], request=request)
        if device is not None:
            request.session[DEVICE_ID_SESSION_KEY] = device.persistent_id
            return redirect(settings.LOGIN_REDIRECT_URL)
    user_login_failed.send(
        sender=__name__, credentials={"username": request.user.get_username(), "step": "code"}, request=request
    )
    messages.error(request, _("That code is not right, or was already used."))
    return redirect("two-factor")


@require_POST
@sensitive_post_parameters()
def two_factor_recovery_codes(request: HttpRequest) -> HttpResponse:
    if not security.two_factor_enabled(request.user) or not security.session_is_verified(request):
        return redirect("two-factor")
    request.session["crm_new_recovery_codes"] = security.recovery_codes_create(user=request.user)
    security.security_event_record(kind=SecurityEventKind.RECOVERY_CODES_REPLACED, user=request.user, request=request)
    return redirect("two-factor")


@require_POST
@sensitive_post_parameters()
def two_factor_disable(request: HttpRequest) -> HttpResponse:
    user = request.user
    if security.two_factor_required(user):
        messages.error(request, _("Your account must use two-factor sign-in; it cannot be turned off."))
        return redirect("two-factor")
    form = DisableForm(request.POST)
    if form.is_valid():
        secret = form.cleaned_data["secret"]
        if user.check_password(secret) or security.two_factor_verify(user=user, code=secret, request=request):
            security.two_factor_disable(user=user, request=request)
            messages.success(request, _("Two-factor sign-in is off."))
            return redirect("two-factor")
    messages.error(request, _("That is neither your password nor a valid code; two-factor sign-in stays on."))
    return redirect("two-factor")


@require_POST
def sign_out_everywhere(request: HttpRequest) -> HttpResponse:
    """End every session of the user, on every device, this one included."""
    ended = security.user_sign_out_everywhere(user=request.user, request=request)
    logout(request)
    messages.success(
        request,
        ngettext(
            "You are signed out everywhere (%(count)d other session ended).",
            "You are signed out everywhere (%(count)d other sessions ended).",
            ended,
        )
        % {"count": ended},
    )
    return redirect("login")
