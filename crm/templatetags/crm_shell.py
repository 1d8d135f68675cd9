"""The app shell (base.html's navigation bar, the notification bell, the language switcher):
Jinja2 templates in ``crm/jinja2/crm/`` rendered by these tags.

The shell is on every page; through the Django template language its ~40 tags and lookups
cost ~1 ms of each request, the time of a whole small page, so it is written once in
Jinja2 (``crm.jinja2``) and the Django templates print it with ``{% app_navbar %}``,
``{% notification_bell %}`` and ``{% language_switcher %}``.
"""

from __future__ import annotations

import functools

from django import template
from django.conf import settings
from django.utils.safestring import SafeString
from django.utils.translation import get_language, get_language_info, ngettext

from crm.jinja2 import render

register = template.Library()


@functools.cache
def _languages() -> tuple[tuple[str, str], ...]:
    """(code, the language's name in itself), as the switcher lists them."""
    return tuple((code, get_language_info(code)["name_local"]) for code, _name in settings.LANGUAGES)


def unread_label(count: int) -> str:
    """The bell's accessible name: "3 unread notifications"."""
    return ngettext("%(counter)s unread notification", "%(counter)s unread notifications", count) % {"counter": count}


def _shell(context: template.Context, **extra) -> dict:
    """What the shell's templates read, from the page's context (``crm.context_processors.shell``)."""
    request = context.get("request")
    unread = context.get("unread_notifications") or 0
    return {
        "urls": context["shell_urls"],
        "csrf_token": str(context.get("csrf_token", "")),
        "unread": unread,
        "bell_label": unread_label(unread),
        "languages": _languages(),
        "language": get_language(),
        "next": request.get_full_path() if request is not None else "",
        **extra,
    }


@register.simple_tag(takes_context=True)
def app_navbar(context: template.Context) -> SafeString:
    """The navigation bar of a signed-in user: sections, search, bell and user menu."""
    request = context["request"]
    match = request.resolver_match
    return render(
        "crm/navbar.html",
        _shell(
            context,
            user=context["user"],
            nav=context.get("nav"),
            query=context.get("query"),
            section=match.app_name if match else "",
            url_name=match.url_name if match else "",
            switcher_id="language-switcher-menu",
            form_class="",
        ),
    )


@register.simple_tag(takes_context=True)
def notification_bell(context: template.Context) -> SafeString:
    """The bell with the unread count (the fragment htmx polls)."""
    return render("crm/bell.html", _shell(context))


@register.simple_tag(takes_context=True)
def language_switcher(
    context: template.Context, switcher_id: str = "language-switcher", form_class: str = ""
) -> SafeString:
    """A form choosing the interface language (back to this page once chosen)."""
    return render("crm/language_switcher.html", _shell(context, switcher_id=switcher_id, form_class=form_class))
