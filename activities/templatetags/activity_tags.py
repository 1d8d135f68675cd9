"""Tags other apps' pages use to show activities (the lead places them after merging):

{% load activity_tags %}
{% customer_timeline company %}          company, contact or deal; htmx filters and paging
{% log_activity_form company %}          inline "log a call/meeting/…" form
{% next_activity_map deals as next %}    ONE query for a whole board of deals
{% next_activity_badge next deal %}      a card's next activity from that map

The timeline card, the log card and My day's stale deals are written by Jinja2 templates
(``activities/jinja2/activities/``) through ``{% timeline_card %}``, ``{% timeline_more %}``,
``{% log_form_card %}`` and ``{% stale_deal_items %}``, which their Django templates print.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from django import template
from django.db.models import Model
from django.template import defaultfilters
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.safestring import SafeString
from django.utils.text import slugify
from django.utils.timesince import timesince
from django.utils.timezone import template_localtime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from activities import selectors
from activities.forms import ActivityForm
from activities.models import Activity, ActivityType
from activities.templatetags.activity_rows import TypeLabels
from crm.html import DateText, IdUrl
from crm.jinja2 import render
from crm.templatetags.crispy_fast import crispy_fields, csrf_input

register = template.Library()

KIND_ICONS = {
    "stage_change": "bi-arrow-right-circle",
    "deal_won": "bi-trophy",
    "deal_lost": "bi-x-octagon",
    "deal_created": "bi-plus-circle",
    "deal_reopened": "bi-arrow-counterclockwise",
    "merge": "bi-intersect",
    "import": "bi-upload",
    "created": "bi-plus-circle",
    "archived": "bi-archive",
    "restored": "bi-box-arrow-up",
    "owner_changed": "bi-person-check",
    "quote_created": "bi-file-earmark-text",
    "quote_sent": "bi-send",
    "quote_accepted": "bi-file-earmark-check",
    "quote_declined": "bi-file-earmark-x",
}


def request_active_types(request: Any) -> list[ActivityType]:
    """The active types, loaded once per request: a record's page shows both the timeline
    and the log form, and each needs them."""
    if request is None:
        return selectors.active_types()
    types = getattr(request, "_active_activity_types", None)
    if types is None:
        types = request._active_activity_types = selectors.active_types()
    return types


def timeline_context(
    obj: Model,
    *,
    filter_key: str = "",
    cursor: str = "",
    user: Any = None,
    types: list[ActivityType] | None = None,
) -> dict[str, Any]:
    types = selectors.active_types() if types is None else types
    extras = selectors.TimelineExtras.load()
    page = selectors.timeline_page(obj, filter_key=filter_key, cursor=cursor, types=types, extras=extras)
    if selectors.timeline_filter_q(filter_key, types, extras) is None:
        filter_key = ""
    filters = [("", _("All")), ("activities", _("Activities"))]
    filters += [(f"type-{t.key}", t.label) for t in types]
    filters += [(key, _(label)) for key, (label, _kinds) in selectors.EVENT_FILTERS.items()]
    filters += [("other", _("Other"))]
    # Registered kinds (business events…): "all of them" and their own filters, in a select.
    groups = extras.groups
    return {
        "obj": obj,
        "kind": selectors.customer_kind(obj),
        "page": page,
        "filters": filters,
        "filter_groups": groups,
        "extras": extras,
        "filter_key": filter_key,
        "kind_icons": KIND_ICONS,
        "now": timezone.now(),
    }


@register.inclusion_tag("activities/partials/timeline.html", takes_context=True)
def customer_timeline(context: template.Context, obj: Model) -> dict[str, Any]:
    """The record's history, newest first. The page has already checked access to ``obj``."""
    request = context.get("request")
    context_data = timeline_context(obj, user=getattr(request, "user", None), types=request_active_types(request))
    return {**context_data, "request": request}


def _timeline_html(context: template.Context, template_name: str) -> SafeString:
    """``template_name`` (the card or one page of it) for the context of ``timeline_context``."""
    kind, obj, page = context["kind"], context["obj"], context["page"]
    return render(
        template_name,
        {
            "kind": kind,
            "obj": obj,
            "page": page,
            "filters": context.get("filters", []),
            "filter_groups": context.get("filter_groups", []),
            "filter_key": context.get("filter_key", ""),
            "timeline_url": reverse("activities:timeline", args=[kind, obj.pk]),
            "quote": _urlencode,
            "events_html": timeline_events(page.events, kind, context.get("now"), context.get("extras")),
        },
    )


def _urlencode(value: object) -> str:
    """As the ``|urlencode`` filter."""
    return quote(str(value), safe="/")


@register.simple_tag(takes_context=True)
def timeline_card(context: template.Context) -> SafeString:
    """A customer's timeline card (``activities/jinja2/activities/timeline.html``)."""
    return _timeline_html(context, "activities/timeline.html")


@register.simple_tag(takes_context=True)
def timeline_more(context: template.Context) -> SafeString:
    """The next page of a timeline, for "Show older" (``activities/timeline_page.html``)."""
    return _timeline_html(context, "activities/timeline_page.html")


@register.simple_tag
def stale_deal_items(deals: list[Any], stale_days: int) -> SafeString:
    """My day's stale deals as ``<li>``s (``activities/jinja2/activities/stale_deals.html``)."""
    since = {
        deal.pk: _("last activity %(since)s ago") % {"since": timesince(deal.last_activity_at)}
        if deal.last_activity_at
        else _("no activity yet")
        for deal in deals
    }
    empty = ngettext(
        "Every open deal had an activity in the last %(days)s day.",
        "Every open deal had an activity in the last %(days)s days.",
        stale_days,
    ) % {"days": stale_days}
    return render(
        "activities/stale_deals.html",
        {"deals": deals, "deal_url": IdUrl("deals:detail"), "since": since, "empty": empty},
    )


@register.inclusion_tag("activities/partials/log_form_container.html", takes_context=True)
def log_activity_form(context: template.Context, obj: Model, type_key: str = "note") -> dict[str, Any]:
    request = context["request"]
    types = request_active_types(request)
    activity_type = next((t for t in types if t.key == type_key), types[0] if types else None)
    form = ActivityForm(user=request.user, activity_type=activity_type) if activity_type else None
    return {
        "request": request,
        "csrf_token": context.get("csrf_token"),
        "form": form,
        "types": types,
        "activity_type": activity_type,
        "on": f"{selectors.customer_kind(obj)}:{obj.pk}",
    }


@register.simple_tag(takes_context=True)
def log_form_card(context: template.Context) -> SafeString:
    """The "Log an activity" card (``activities/jinja2/activities/log_form.html``) for the
    context of ``log_activity_form`` or of the log view: ``form``, ``types``,
    ``activity_type``, ``on`` ("company:7"), ``logged`` (the activity just saved, if any)."""
    request, on = context.get("request"), context["on"]
    activity_type, logged = context.get("activity_type"), context.get("logged")
    token = context.get("csrf_token")
    form = context.get("form")
    texts = {}
    if logged is not None:
        texts["logged"] = _("Logged “%(subject)s”.") % {"subject": logged.subject}
    if activity_type is not None:
        texts["save"] = _("Save %(name)s") % {"name": activity_type.label}
    htmx = getattr(request, "htmx", None)
    return render(
        "activities/log_form.html",
        {
            "slug": slugify(on),
            "on": on,
            "on_quoted": _urlencode(on),
            "quote": _urlencode,
            "log_url": reverse("activities:log"),
            "types": context.get("types"),
            "activity_type": activity_type,
            "logged": logged,
            "logged_url": logged.get_absolute_url() if logged is not None else "",
            "csrf_input": csrf_input(token),
            "next": getattr(htmx, "current_url_abs_path", None) or (request.get_full_path() if request else ""),
            "fields": crispy_fields(form, token) if form is not None else "",
            "texts": texts,
        },
    )


@register.simple_tag
def next_activity_map(deals: Iterable[Any]) -> dict[int, Activity]:
    """Deal id → next open activity, for a list of deals or deal ids, in one query."""
    ids = [deal if isinstance(deal, int) else deal.pk for deal in deals]
    return selectors.next_activity_map(ids)


@register.inclusion_tag("activities/partials/next_activity_badge.html")
def next_activity_badge(activity_map: dict[int, Activity], deal: Any) -> dict[str, Any]:
    deal_id = deal if isinstance(deal, int) else deal.pk
    return {"activity": activity_map.get(deal_id), "now": timezone.now()}


@register.filter
def record_url(obj: Any) -> str:
    """A record's URL, or "" while the page that shows it does not exist yet."""
    if obj is None:
        return ""
    try:
        return obj.get_absolute_url()
    except (NoReverseMatch, AttributeError):
        return ""


KIND_LABELS = {
    "stage_change": gettext_lazy("Stage change"),
    "deal_won": gettext_lazy("Deal won"),
    "deal_lost": gettext_lazy("Deal lost"),
    "deal_created": gettext_lazy("Deal created"),
    "deal_reopened": gettext_lazy("Deal reopened"),
    "merge": gettext_lazy("Merge"),
    "import": gettext_lazy("Import"),
    "created": gettext_lazy("Created"),
    "archived": gettext_lazy("Archived"),
    "restored": gettext_lazy("Restored"),
    "owner_changed": gettext_lazy("Owner changed"),
    "quote_created": gettext_lazy("Quote made"),
    "quote_sent": gettext_lazy("Quote sent"),
    "quote_accepted": gettext_lazy("Quote accepted"),
    "quote_declined": gettext_lazy("Quote declined"),
}


def register_timeline_kinds(*, filter_key: str, filter_label: str, kinds: dict[str, tuple[Any, str]]) -> None:
    """For apps above ``activities`` (from their ``AppConfig.ready``): the label and icon of
    each event kind they record, and a timeline filter (``filter_label`` a ``gettext_noop``
    string) that shows those kinds."""
    for kind, (label, icon) in kinds.items():
        KIND_LABELS[kind] = label
        KIND_ICONS[kind] = icon
    selectors.EVENT_FILTERS[filter_key] = (filter_label, tuple(kinds))


@register.filter
def kind_label(kind: str) -> str:
    """A readable name for an event kind; unknown kinds (other systems') as sent, de-snaked."""
    return str(KIND_LABELS.get(kind, kind.replace("_", " ").capitalize()))


@register.filter
def kind_icon(kind: str) -> str:
    return KIND_ICONS.get(kind, "bi-dot")


# --- Timeline rows ------------------------------------------------------------------------


def _event_body(text: str) -> SafeString:
    """``{{ text|truncatechars:600|urlize|linebreaksbr }}`` under autoescaping."""
    return defaultfilters.linebreaksbr(
        defaultfilters.urlize(defaultfilters.truncatechars(text, 600), autoescape=True), autoescape=True
    )


def _minutes(n: int) -> str:
    return ngettext("%(n)s minute", "%(n)s minutes", n) % {"n": n}


@register.simple_tag
def timeline_events(
    events: Iterable[Any], kind: str, now: Any, extras: selectors.TimelineExtras | None = None
) -> SafeString:
    """The ``<li>``s of a timeline page (``selectors.timeline_page``'s events, with the names
    of their actor, contact and deal), one Jinja2 render (``timeline_events.html``): 20 events
    through ``{% include %}`` cost ~7 ms of a record page's CPU (bench/FINDINGS.md §7).
    Registered kinds get their look from ``extras`` (loaded with the page, no further query)."""
    events = list(events)
    return render(
        "activities/timeline_events.html",
        {
            "events": events,
            "kind": kind,
            "now": now,
            "looks": extras.looks(events) if extras is not None else {},
            "dates": DateText(),
            "localtime": template_localtime,
            "body": _event_body,
            "minutes": _minutes,
            "kind_icon": kind_icon,
            "kind_label": kind_label,
            "type_label": TypeLabels().label,
            "activity_url": IdUrl("activities:detail"),
            "contact_url": IdUrl("contacts:contact-detail"),
            "deal_url": IdUrl("deals:detail"),
        },
    )
