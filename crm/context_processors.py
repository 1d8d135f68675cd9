import functools

from django.conf import settings
from django.http import HttpRequest
from django.urls import NoReverseMatch, get_script_prefix, reverse

# The routes of the app shell (navigation, user menu, bell). A section whose app does not
# serve its route is left out of the menu: its entry is "".
SHELL_ROUTES = {
    "home": "home",
    "companies": "contacts:company-list",
    "contacts": "contacts:contact-list",
    "data_quality": "contacts:data-quality",
    "deals": "deals:list",
    "activities": "activities:list",
    "cases": "service:list",
    "campaigns": "campaigns:list",
    "reports": "reports:index",
    "admin": "admin:index",
    "search": "search",
    "bell": "notification-bell",
    "notifications": "notification-list",
    "language_set": "language-set",
    "preferences": "preferences",
    "imports": "contacts:import-list",
    "password_change": "password_change",
    "logout": "logout",
    "sign_out_everywhere": "sign-out-everywhere",
    "two_factor": "two-factor",
    "custom_fields": "custom-field-list",
}


@functools.cache
def _shell_urls(script_prefix: str) -> dict[str, str]:
    """Reversed once per process (and script prefix): ~15 ``reverse()`` calls on every page otherwise."""
    urls = {}
    for key, route in SHELL_ROUTES.items():
        try:
            urls[key] = reverse(route)
        except NoReverseMatch:
            urls[key] = ""
    return urls


def shell(request: HttpRequest) -> dict:
    """What the app shell (navigation, bell) needs on every page."""
    user = getattr(request, "user", None)
    context = {"base_currency": settings.BASE_CURRENCY, "shell_urls": _shell_urls(get_script_prefix())}
    # Set by crm.replica when this page read a replica that lags behind the primary.
    if getattr(request, "data_as_of", None):
        context["data_as_of"] = request.data_as_of
    if user is not None and user.is_authenticated:
        context["unread_notifications"] = user.unread_notification_count
    return context
