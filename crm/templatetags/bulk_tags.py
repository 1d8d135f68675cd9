"""The bulk bar and the last bulk action's banner of a list (``crm.bulk_actions``)."""

from __future__ import annotations

from django import template
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.safestring import SafeString
from django.utils.translation import gettext, ngettext

from crm.bulk_actions import banner_job, bulk_kind, bulk_status_context
from crm.jinja2 import render
from crm.saved_views import ListState

register = template.Library()


def _apply_to_all(count: int | None) -> str:
    if not count:
        return gettext("Apply to all matching")
    label = ngettext("Apply to all %(counter)s matching", "Apply to all %(counter)s matching", count)
    return label % {"counter": count}


@register.simple_tag(takes_context=True)
def bulk_bar(context: template.Context, kind: str, count: int | None = None, query: str = "") -> SafeString:
    return bulk_bar_html(context["request"], kind, count=count, query=query, views=context.get("views"))


def bulk_bar_html(
    request: HttpRequest, kind: str, *, count: int | None, query: str, views: ListState | None
) -> SafeString:
    """The bulk bar of a ``kind`` list (``views``: its crm.saved_views.ListState)."""
    spec = bulk_kind(kind)
    if views is not None:
        # The URL may hold only ``?view=``: "all matching" means the saved view's filters.
        query = views.query
    values = {
        "spec": spec,
        "actions": list(spec.actions.values()),
        "param_fields": spec.param_fields(request.user),
        # Not ``spec.export`` in the template: a template calls a callable it is given, and
        # this one takes arguments, so the option never showed.
        "can_export": spec.export is not None,
        "query": query,
        # For crm.js, which writes the count in: "3 selected".
        "selected_label": gettext("%(count)s selected"),
        "all_label": _apply_to_all(count),
    }
    return render("crm/bulk_bar.html", values)


@register.simple_tag(takes_context=True)
def bulk_status(context: template.Context, kind: str) -> SafeString:
    return bulk_status_html(context["request"], kind)


def bulk_status_html(request: HttpRequest, kind: str) -> SafeString:
    """The banner of the user's last bulk action on a ``kind`` list, while it runs or may be undone."""
    job = banner_job(request.user, kind)
    if job is None:
        return SafeString("")
    values = {**bulk_status_context(job), "next_url": request.get_full_path()}
    return render_to_string("partials/bulk_status.html", values, request=request)
