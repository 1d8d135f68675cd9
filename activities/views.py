from __future__ import annotations

import calendar as pycalendar
import re
from datetime import datetime, time, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from activities import selectors, services
from activities.forms import ActivityFilterForm, ActivityForm, ReminderForm, RescheduleForm
from activities.ics import render_ics
from activities.models import Activity, ActivityType, CalendarFeed, Reminder
from activities.templatetags.activity_tags import timeline_context
from contacts.models import Company, Contact
from crm.home import home_panels
from crm.models import teams_visible_to, users_visible_to
from crm.params import optional_date, optional_id, parse_choice, parse_date, parse_int, safe_next
from crm.saved_views import list_state
from crm.versioning import VersionConflict
from deals.models import Deal

# --- List, detail, edit -------------------------------------------------------------------


@require_GET
def activity_list(request: HttpRequest) -> HttpResponse:
    # Saved views keep the filters and sort (the activity list has no columns to pick).
    state = list_state(request, "activities", columns=[])
    if state.redirect:
        return state.redirect
    params = state.params
    form = ActivityFilterForm(params or None, user=request.user)
    now = timezone.now()
    qs, company, by_due = selectors.activity_list_queryset(request.user, form, bool(params), now=now)
    rows, next_cursor = selectors.activity_list_page(qs, by_due=by_due, cursor=request.GET.get("after", ""))
    selectors.label_list_rows(rows, user=request.user, types=form.types, people=request.user.visible_users)
    querystring = request.GET.copy()
    querystring.pop("after", None)
    return render(
        request,
        "activities/activity_list.html",
        {
            "form": form,
            "rows": rows,
            "next_cursor": next_cursor,
            "is_first_page": not request.GET.get("after"),
            "company": company,
            "querystring": querystring.urlencode(),
            "now": now,
            "views": state,
        },
    )


@require_GET
def activity_detail(request: HttpRequest, pk: int) -> HttpResponse:
    activity = selectors.activity_for_user(request.user, pk)
    return render(
        request,
        "activities/activity_detail.html",
        {
            "activity": activity,
            "reminders": list(activity.reminders.order_by("remind_at", "id")),
            "reminder_form": ReminderForm(activity=activity),
            "reschedule_form": RescheduleForm(),
            "can_edit": request.user.can_edit_owner(activity.owner_id),
            "attendee_users": list(activity.attendee_users.all()),
            "attendee_contacts": list(activity.attendee_contacts.all()),
        },
    )


def activity_edit(request: HttpRequest, pk: int) -> HttpResponse:
    activity = selectors.activity_for_user(request.user, pk, write=True)
    form = ActivityForm(
        request.POST or None,
        instance=activity,
        user=request.user,
        activity_type=activity.type,
        contacts=_attendee_contacts(request, activity.company, activity.contact, activity.deal),
    )
    conflict = None
    if request.method == "POST" and form.is_valid():
        try:
            services.activity_update(activity=activity, actor=request.user, **form.service_kwargs())
        except VersionConflict as exc:
            conflict = exc
            # The editor's values again on the saved version: saving once more keeps them.
            data = request.POST.copy()
            data["version"] = str(exc.version)
            form = ActivityForm(
                data,
                instance=exc.instance,
                user=request.user,
                activity_type=activity.type,
                contacts=_attendee_contacts(request, activity.company, activity.contact, activity.deal),
            )
            form.is_valid()
        else:
            messages.success(request, _("Activity saved."))
            return redirect(activity)
    if request.method == "POST":
        activity = selectors.activity_for_user(request.user, pk, write=True)  # the saved one, for the page
    context = {"form": form, "activity": activity, "conflict": conflict}
    return render(request, "activities/activity_form.html", context, status=409 if conflict else 200)


@require_POST
def activity_delete(request: HttpRequest, pk: int) -> HttpResponse:
    activity = selectors.activity_for_user(request.user, pk, write=True)
    services.activity_delete(activity=activity, actor=request.user)
    messages.success(request, _("Activity deleted."))
    return redirect("activities:list")


def _attendee_contacts(request: HttpRequest, company: Company | None, contact: Contact | None, deal: Deal | None):
    """Contacts offered as meeting attendees: the people of the record the meeting is on."""
    qs = Contact.objects.visible_to(request.user)
    if company is not None:
        return qs.filter(company=company)
    if deal is not None:
        return qs.filter(deals=deal)
    if contact is not None:
        return qs.filter(pk=contact.pk)
    return qs.none()


# --- Logging an activity (inline on customer pages, or standalone) ------------------------


def _type_from(request: HttpRequest) -> ActivityType:
    key = request.POST.get("type") or request.GET.get("type") or ""
    types = selectors.active_types()
    for activity_type in types:
        if activity_type.key == key:
            return activity_type
    if not types:
        raise Http404
    return next((t for t in types if t.key == "note"), types[0])


def _target(request: HttpRequest) -> tuple[Company | None, Contact | None, Deal | None, str]:
    """The customer record the activity is logged on, from ``?on=company:12`` (404 if hidden)."""
    raw = request.POST.get("on") or request.GET.get("on") or ""
    if not raw:
        return None, None, None, ""
    kind, _sep, pk = raw.partition(":")
    obj = selectors.customer_for_user(request.user, kind, pk)
    if isinstance(obj, Company):
        return obj, None, None, raw
    if isinstance(obj, Contact):
        return obj.company, obj, None, raw
    return obj.company, None, obj, raw


def _initial_times(request: HttpRequest) -> dict[str, datetime]:
    """``?start=2026-12-07T09:30`` (a calendar slot): the new activity starts then, for an hour."""
    raw = request.GET.get("start")
    if not raw:
        return {}
    day, _sep, clock = raw.partition("T")
    hour, _sep, minute = clock.partition(":")
    start = datetime.combine(
        parse_date(day, name="start"),
        time(parse_int(hour, name="start", maximum=23), parse_int(minute or "0", name="start", maximum=59)),
        tzinfo=timezone.get_current_timezone(),
    )
    return {"due_at": start, "ends_at": start + timedelta(hours=1)}


def activity_log(request: HttpRequest) -> HttpResponse:
    """The log form: an htmx fragment on customer pages, a full page elsewhere."""
    company, contact, deal, on = _target(request)
    activity_type = _type_from(request)
    form = ActivityForm(
        request.POST or None,
        user=request.user,
        activity_type=activity_type,
        contacts=_attendee_contacts(request, company, contact, deal),
        initial=_initial_times(request),
    )
    logged = None
    if request.method == "POST" and form.is_valid():
        logged = services.activity_create(
            actor=request.user,
            type=activity_type,
            company=company,
            contact=contact,
            deal=deal,
            done=form.is_done,
            **form.service_kwargs(),
        )
        if not request.htmx:
            messages.success(request, _("Activity logged."))
            return redirect(safe_next(request, logged.get_absolute_url()))
        form = ActivityForm(
            user=request.user,
            activity_type=activity_type,
            contacts=_attendee_contacts(request, company, contact, deal),
        )
    context = {
        "form": form,
        "types": selectors.active_types(),
        "activity_type": activity_type,
        "on": on,
        "logged": logged,
    }
    if request.htmx:
        response = render(request, "activities/partials/log_form.html", context)
        if logged is not None:
            response["HX-Trigger"] = "activity-logged"
        return response
    return render(request, "activities/activity_log.html", context)


# --- Inline actions (My day, lists, detail) -----------------------------------------------


def _row_or_redirect(request: HttpRequest, activity: Activity) -> HttpResponse:
    if request.htmx:
        return render(request, "activities/partials/activity_row.html", {"activity": activity, "now": timezone.now()})
    return redirect(safe_next(request, activity.get_absolute_url()))


@require_POST
def activity_toggle_done(request: HttpRequest, pk: int) -> HttpResponse:
    activity = selectors.activity_for_user(request.user, pk, write=True)
    # The button states what it wants; without it (an old page), the click toggles.
    wanted = {"1": True, "0": False}.get(request.POST.get("done", ""), activity.done_at is None)
    activity = services.activity_set_done(activity=activity, actor=request.user, done=wanted)
    return _row_or_redirect(request, activity)


@require_POST
def activity_reschedule(request: HttpRequest, pk: int) -> HttpResponse:
    activity = selectors.activity_for_user(request.user, pk, write=True)
    form = RescheduleForm(request.POST)
    if form.is_valid():
        activity = services.activity_reschedule(
            activity=activity, actor=request.user, due_at=form.new_due_at(activity.due_at)
        )
    elif not request.htmx:
        messages.error(request, " ".join(str(e) for e in form.errors.get("__all__", [])) or _("Pick a new time."))
    return _row_or_redirect(request, activity)


@require_POST
def reminder_add(request: HttpRequest, pk: int) -> HttpResponse:
    activity = selectors.activity_for_user(request.user, pk, write=True)
    form = ReminderForm(request.POST, activity=activity)
    if form.is_valid():
        services.reminder_add(
            activity=activity,
            remind_at=form.cleaned_data["remind_at"],
            minutes_before=form.cleaned_data["minutes_before"],
        )
        messages.success(request, _("Reminder set."))
    else:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
    return redirect(activity)


@require_POST
def reminder_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    reminder = get_object_or_404(Reminder.objects.select_related("activity"), pk=pk)
    activity = selectors.activity_for_user(request.user, reminder.activity_id, write=True)
    services.reminder_cancel(reminder=reminder)
    messages.success(request, _("Reminder cancelled."))
    return redirect(activity)


# --- Timeline -----------------------------------------------------------------------------


@require_GET
def timeline(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    """A page of a customer's timeline (htmx: filter chips and "Show older")."""
    obj = selectors.customer_for_user(request.user, kind, pk)
    context = timeline_context(
        obj, filter_key=request.GET.get("type", ""), cursor=request.GET.get("cursor", ""), user=request.user
    )
    template = (
        "activities/partials/timeline_page.html" if request.GET.get("cursor") else "activities/partials/timeline.html"
    )
    return render(request, template, context)


# --- My day -------------------------------------------------------------------------------


@require_GET
def my_day(request: HttpRequest) -> HttpResponse:
    # Only managers and admins switch between people; a rep's day is always their own (and
    # loading the people to choose from would cost the page a query).
    can_switch = request.user.is_admin or request.user.is_manager
    people = selectors.people_whose_day_user_may_see(request.user) if can_switch else []
    person = request.user
    wanted = optional_id(request.GET, "user")
    if wanted is not None and wanted != request.user.pk:
        person = next((p for p in people if p.pk == wanted), request.user)
    now = timezone.now()
    return render(
        request,
        "activities/my_day.html",
        {
            "person": person,
            "people": people,
            "day": selectors.my_day(person, now=now),
            "now": now,
            # My day is the home page: the other apps' panels sit under the day's work.
            # "Today" repeats what this page already lists in full.
            "panels": home_panels(request, exclude=frozenset({"activities-today"})) if person == request.user else [],
        },
    )


# --- Calendar -----------------------------------------------------------------------------


@require_GET
def calendar_view(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    anchor = optional_date(request.GET, "date", default=today)
    mode = parse_choice(request.GET.get("view"), ("day", "week", "month"), name="view", default="month")
    if mode == "day":
        first = last = anchor
        prev_anchor, next_anchor = anchor - timedelta(days=1), anchor + timedelta(days=1)
    elif mode == "week":
        first = anchor - timedelta(days=anchor.weekday())
        last = first + timedelta(days=6)
        prev_anchor, next_anchor = first - timedelta(days=7), first + timedelta(days=7)
    else:
        month_first = anchor.replace(day=1)
        first = month_first - timedelta(days=month_first.weekday())
        month_last = month_first.replace(day=pycalendar.monthrange(anchor.year, anchor.month)[1])
        last = month_last + timedelta(days=6 - month_last.weekday())
        prev_anchor = (month_first - timedelta(days=1)).replace(day=1)
        next_anchor = month_last + timedelta(days=1)
    owner_ids, person, team = selectors.calendar_owners(
        request.user, user_id=optional_id(request.GET, "user"), team_id=optional_id(request.GET, "team")
    )
    tz = timezone.get_current_timezone()
    start = datetime.combine(first, datetime.min.time(), tzinfo=tz)
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    by_day = selectors.calendar_activities(owner_ids, start, end)
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    weeks = [[(d, by_day.get(d, [])) for d in days[i : i + 7]] for i in range(0, len(days), 7)]
    scope = request.GET.copy()
    for key in ("date", "view"):
        scope.pop(key, None)
    feed = CalendarFeed.objects.filter(user=request.user).first()
    # Overlapping activities share a column: three lanes fit a week's narrow days, eight a day.
    lanes = 8 if mode == "day" else 3
    grid = selectors.calendar_grid(request.user, days, by_day, today=today, max_lanes=lanes) if mode != "month" else []
    return render(
        request,
        "activities/calendar.html",
        {
            "mode": mode,
            "grid": grid,
            "grid_hours": selectors.grid_hours() if grid else [],
            "grid_height": (selectors.GRID_LAST_HOUR - selectors.GRID_FIRST_HOUR) * selectors.GRID_HOUR_PX,
            "anchor": anchor,
            "today": today,
            "weeks": weeks,
            "prev_anchor": prev_anchor,
            "next_anchor": next_anchor,
            "person": person,
            "team": team,
            "people": list(users_visible_to(request.user).order_by("first_name", "last_name")),
            "teams": list(teams_visible_to(request.user)),
            "scope": scope.urlencode(),
            "feed_url": request.build_absolute_uri(feed.get_absolute_url()) if feed else "",
            "weekday_names": [pycalendar.day_abbr[i] for i in range(7)],
        },
    )


@require_POST
def calendar_feed_regenerate(request: HttpRequest) -> HttpResponse:
    services.calendar_feed_regenerate(user=request.user)
    messages.success(request, _("New calendar link created; the old one no longer works."))
    return redirect(reverse("activities:calendar"))


FEED_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}", re.ASCII)


@login_not_required
@never_cache
@require_GET
def calendar_ics(request: HttpRequest, token: str) -> HttpResponse:
    """A user's activities as iCalendar, for Google/Outlook/Apple calendars (secret URL)."""
    if not FEED_TOKEN.fullmatch(token):  # e.g. a NUL, which PostgreSQL refuses to compare
        raise Http404
    feed = CalendarFeed.objects.select_related("user").filter(token=token, user__is_active=True).first()
    if feed is None:
        raise Http404
    body = render_ics(selectors.feed_activities(feed.user), site_url=request.build_absolute_uri("/").rstrip("/"))
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="crm.ics"'
    return response
