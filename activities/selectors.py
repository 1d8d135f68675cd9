"""Reads for activity pages, My day, the calendar and customer timelines."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.postgres.expressions import ArraySubquery
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db.models import (
    Case,
    Count,
    DateTimeField,
    ExpressionWrapper,
    F,
    Func,
    IntegerField,
    Model,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Concat, NullIf, Trim
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop

from activities.models import Activity, ActivityType, TimelineEvent
from contacts.models import Company, Contact
from crm.compiled import AnyOf, CompiledQuery, IdArray, OwnerAccess, any_of, owner_ids_of
from crm.l10n import CJK_CLASS
from crm.models import Team, User, teams_visible_to, users_visible_to
from crm.params import MAX_ID, BadParameter, parse_id, parse_int
from crm.rows import ListRow, list_rows
from deals.models import Deal

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

Customer = Company | Contact | Deal

CUSTOMER_KINDS: dict[str, type[Company] | type[Contact] | type[Deal]] = {
    "company": Company,
    "contact": Contact,
    "deal": Deal,
}


def activity_for_user(user: User, pk: int, *, write: bool = False) -> Activity:
    """The activity if ``user`` may see it (404 otherwise); with ``write``, 403 if read-only.

    Readable when its assignee's records are, or when a customer record it is logged on is
    (it appears on that record's timeline, so its link must open). Changing it follows the
    assignee only.
    """
    activity = Activity.objects.with_related().filter(pk=pk).first()
    if activity is None:
        raise Http404
    linked_owner_ids = [r.owner_id for r in (activity.company, activity.contact, activity.deal) if r is not None]
    if not (user.can_read_owner(activity.owner_id) or any(user.can_read_owner(o) for o in linked_owner_ids)):
        raise Http404
    if write and not user.can_edit_owner(activity.owner_id):
        raise PermissionDenied
    return activity


def customer_for_user(user: User, kind: str, pk: int | str) -> Customer:
    """A company, contact or deal ``user`` may see, by kind name; 404 for anything else."""
    model = CUSTOMER_KINDS.get(kind)
    try:
        pk = parse_id(str(pk))
    except BadParameter:
        raise Http404 from None
    if model is None:
        raise Http404
    obj = model.objects.visible_to(user).filter(pk=pk).first()
    if obj is None:
        raise Http404
    return obj


def customer_kind(obj: Customer) -> str:
    return obj._meta.model_name


# The active activity types, cached: every 360 page, deal page and timeline offers them in
# its quick-log form. Saving or deleting a type drops the copy (``activities.receivers``);
# the expiry bounds what a change made without signals (a data migration) leaves stale.
ACTIVE_TYPES_CACHE_KEY = "activities:active-types:v1"
ACTIVE_TYPES_CACHE_SECONDS = 600


def active_types() -> list[ActivityType]:
    types = cache.get(ACTIVE_TYPES_CACHE_KEY)
    if types is None:
        types = list(ActivityType.objects.filter(active=True))
        cache.set(ACTIVE_TYPES_CACHE_KEY, types, ACTIVE_TYPES_CACHE_SECONDS)
    return types


def forget_active_types() -> None:
    cache.delete(ACTIVE_TYPES_CACHE_KEY)


LIST_PAGE_SIZE = 50


# What a row of the activity list reads of the activity itself (``activity_rows.activity_list_rows``),
# with ``values()``: no model instances, and no joins. Each joined table (type, assignee,
# deal, contact, company: ~25 indexes each for the last three) multiplied the planner's work:
# 3–4 ms of planning and 2 ms of executor start for a 0.2 ms index scan. What the rows print
# of the records they point at comes from ``label_list_rows``.
LIST_ROW_FIELDS = (
    *("id", "subject", "due_at", "done_at", "created_at", "type_id", "owner_id", "deal_id", "contact_id"),
    "company_id",
)


def activity_list_page(qs: QuerySet[Activity], *, by_due: bool, cursor: str = "") -> tuple[list[ListRow], str]:
    """One keyset page of the activity list (no COUNT, no OFFSET): newest logged first, or
    by due time (scheduled activities only). Returns the ``LIST_ROW_FIELDS`` rows and the
    next page's cursor."""
    position = parse_cursor(cursor) if cursor else None
    if by_due:
        qs = qs.filter(due_at__isnull=False).order_by("due_at", "id")
        if position:
            qs = qs.filter(Q(due_at__gt=position[0]) | Q(due_at=position[0], id__gt=position[1]))
    else:
        qs = qs.order_by("-created_at", "-id")
        if position:
            qs = qs.filter(Q(created_at__lt=position[0]) | Q(created_at=position[0], id__lt=position[1]))
    rows = list(list_rows(qs, LIST_ROW_FIELDS)[: LIST_PAGE_SIZE + 1])
    if len(rows) <= LIST_PAGE_SIZE:
        return rows, ""
    rows = rows[:LIST_PAGE_SIZE]
    last = rows[-1]
    return rows, encode_cursor(last.due_at if by_due else last.created_at, last.pk)


def label_list_rows(rows: list[ListRow], *, user: User, types: Iterable[ActivityType], people: Iterable[User]) -> None:
    """Adds to each ``activity_list_page`` row what it prints besides its own columns:
    ``type`` (from ``types``), ``owner_name`` (from ``people``, the names the request has
    already loaded) and ``linked``: ``(kind, id, label)`` of the first of its deal, contact
    and company that ``user`` may see, or None. A record the user may not see is neither
    named nor linked (its owner may have moved it out of their reach since). The labels, and
    the names of assignees not in ``people``, are read in one query of single-table parts
    (none when there is nothing to name)."""
    type_by_id = {t.pk: t for t in types}
    names = {person.pk: str(person) for person in people}
    wanted: dict[str, set[int]] = {kind: set() for kind in _LINKED}
    for row in rows:
        for kind in wanted:
            if row[f"{kind}_id"]:
                wanted[kind].add(row[f"{kind}_id"])
    ids = {kind: sorted(found) for kind, found in wanted.items() if found}
    unnamed = {row.owner_id for row in rows} - names.keys()
    if unnamed:
        ids["user"] = sorted(unnamed)
    labels: dict[tuple[str, int], str] = {}
    if ids:
        found = _LABELS.fetch((user.is_admin, tuple(ids)), owners=owner_ids_of(user), **ids)
        labels = {(kind, pk): label for kind, pk, label in found}
    # A type added since ``types`` was read (never in practice): read with the others missing.
    missing_types = {row.type_id for row in rows} - type_by_id.keys()
    if missing_types:
        type_by_id.update((t.pk, t) for t in ActivityType.objects.filter(pk__in=missing_types))
    for row in rows:
        row.type = type_by_id[row.type_id]
        row.owner_name = names.get(row.owner_id) or labels.get(("user", row.owner_id), "")
        row.linked = next(
            (
                (kind, row[f"{kind}_id"], labels[kind, row[f"{kind}_id"]])
                for kind in _LINKED
                if (kind, row[f"{kind}_id"]) in labels
            ),
            None,
        )


# The records an activity links to, in the order the list shows the first one it may.
_LINKED = ("deal", "contact", "company")


def _labels_query(key: tuple[bool, tuple[str, ...]], *, owners: list[int], **ids: list[int]) -> QuerySet:
    """(kind, pk, label) of the deals, contacts and companies in ``ids`` that a viewer who is
    an admin (``key[0]``) or sees ``owners``' records may see, and of the users in ``ids``
    (assignees are named whoever they are): one UNION of single-table parts, ``key[1]`` the
    kinds present."""
    is_admin, kinds = key
    viewer = OwnerAccess(is_admin=is_admin, visible_owner_ids=owners)
    labels = {"deal": (Deal, F("title")), "contact": (Contact, full_name()), "company": (Company, F("name"))}
    parts = []
    for kind in kinds:
        if kind == "user":
            qs = User.objects.filter(any_of("pk", ids[kind])).annotate(kind=Value(kind), label=person_name())
        else:
            model, label = labels[kind]
            qs = (
                model.objects.visible_to(viewer).filter(any_of("pk", ids[kind])).annotate(kind=Value(kind), label=label)
            )
        parts.append(qs.order_by().values_list("kind", "pk", "label"))
    return parts[0].union(*parts[1:], all=True)


# Compiled once per role, kinds present and number of visible owners: the ids are arrays, so
# a page's number of linked records does not make a new shape (built per request, the union
# cost ~3 ms of the ORM's time and ~1.5 ms of planning).
_LABELS = CompiledQuery(_labels_query, owners=list, deal=IdArray, contact=IdArray, company=IdArray, user=IdArray)


# --- Timeline -----------------------------------------------------------------------------

TIMELINE_PAGE_SIZE = 20
# Filter chips besides one per activity type: key → (label, kinds).
EVENT_FILTERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "deals": (
        gettext_noop("Deal changes"),
        ("stage_change", "deal_won", "deal_lost", "deal_created", "deal_reopened"),
    ),
    "quotes": (gettext_noop("Quotes"), ("quote_created", "quote_sent", "quote_accepted", "quote_declined")),
    "merge": (gettext_noop("Merges"), ("merge",)),
    "import": (gettext_noop("Imports"), ("import",)),
    "record": (gettext_noop("Record changes"), ("created", "archived", "restored", "owner_changed")),
}


@dataclass(frozen=True)
class EventLook:
    """How a registered kind's event is drawn: its icon and colour, the label under the title
    (instead of the kind's name) and the details below it, safe HTML (``format_html``)."""

    icon: str
    color: str
    label: str
    detail_html: str = ""
    show_body: bool = True  # False when detail_html already says what the body does


@dataclass(frozen=True)
class TimelineKind:
    """A kind of timeline event another app owns (``register_timeline_kind``).

    ``load()`` runs once per timeline render (one query at most) and returns what the other two
    need: ``options(loaded)`` the filters it offers — (key, label, condition), shown in one
    select after the chips — and ``look(loaded, events)`` each of the page's events of this
    kind → ``EventLook``, with no further query.
    """

    kind: str
    label: str  # the select's name, e.g. "Business events" (gettext_noop: translated when shown)
    all_label: str  # its option for every event of the kind, e.g. "All business events"
    load: Callable[[], Any]
    options: Callable[[Any], list[tuple[str, str, Q]]]
    look: Callable[[Any, list[TimelineEvent]], dict[int, EventLook]]


TIMELINE_KINDS: dict[str, TimelineKind] = {}


def register_timeline_kind(kind: TimelineKind) -> None:
    """Give a kind of event (sent by a higher app) its own look and filters on timelines."""
    TIMELINE_KINDS[kind.kind] = kind


@dataclass
class TimelineExtras:
    """The registered kinds' loaded data and filters, for one render of a timeline."""

    loaded: dict[str, Any]
    groups: list[tuple[str, list[tuple[str, str]]]]  # (group label, [(key, label)])
    conditions: dict[str, Q]

    @classmethod
    def load(cls) -> TimelineExtras:
        loaded: dict[str, Any] = {}
        groups: list[tuple[str, list[tuple[str, str]]]] = []
        conditions: dict[str, Q] = {}
        for kind in TIMELINE_KINDS.values():
            loaded[kind.kind] = data = kind.load()
            options = [(f"kind-{kind.kind}", gettext(kind.all_label))]
            conditions[f"kind-{kind.kind}"] = Q(kind=kind.kind)
            for key, label, condition in kind.options(data):
                options.append((key, label))
                conditions[key] = Q(kind=kind.kind) & condition
            groups.append((gettext(kind.label), options))
        return cls(loaded=loaded, groups=groups, conditions=conditions)

    def looks(self, events: Iterable[TimelineEvent]) -> dict[int, EventLook]:
        by_kind: dict[str, list[TimelineEvent]] = {}
        for event in events:
            if event.kind in TIMELINE_KINDS and event.activity_id is None:
                by_kind.setdefault(event.kind, []).append(event)
        looks: dict[int, EventLook] = {}
        for kind, kind_events in by_kind.items():
            looks.update(TIMELINE_KINDS[kind].look(self.loaded.get(kind), kind_events))
        return looks


def timeline_scopes(obj: Customer) -> list[Q]:
    """Events of the record; a company's also include its contacts' and deals' events.

    A list of conditions whose union is the timeline: one per indexed column, so each can
    walk its own (column, occurred_at, id) index. ORed into one WHERE they could not, and a
    company's timeline read all four million events (bench/FINDINGS.md).
    """
    return _scopes(customer_kind(obj), obj.pk)


def _scopes(kind: str, pk: int) -> list[Q]:
    if kind == "company":
        return [
            Q(company_id=pk),
            Q(contact_id__in=Contact.objects.filter(company_id=pk).values("id")),
            Q(deal_id__in=Deal.objects.filter(company_id=pk).values("id")),
        ]
    if kind == "contact":
        return [Q(contact_id=pk)]
    return [Q(deal_id=pk)]


def timeline_filter_q(key: str, types: Iterable[ActivityType], extras: TimelineExtras | None = None) -> Q | None:
    """The condition for a filter chip; None (no filter) for an unknown key."""
    if extras is not None and key in extras.conditions:
        return extras.conditions[key]
    if key == "activities":
        return Q(kind="activity")
    if key.startswith("type-"):
        type_keys = {t.key for t in types}
        if key[5:] in type_keys:
            return Q(kind="activity", activity__type__key=key[5:])
        return None
    if key in EVENT_FILTERS:
        return Q(kind__in=EVENT_FILTERS[key][1])
    if key == "other":
        known = ["activity", *(k for _label, kinds in EVENT_FILTERS.values() for k in kinds), *TIMELINE_KINDS]
        return ~Q(kind__in=known)
    return None


@dataclass(frozen=True)
class TimelinePage:
    events: list[TimelineEvent]
    has_more: bool
    next_cursor: str


def parse_cursor(value: str) -> tuple[datetime, int] | None:
    """``"<unix microseconds>-<id>"`` → (time, id); None when malformed."""
    try:
        micros, pk = value.split("-", 1)
        return EPOCH + timedelta(microseconds=parse_int(micros, minimum=-MAX_ID)), parse_id(pk)
    except (ValueError, OverflowError, BadParameter):
        return None


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def encode_cursor(at: datetime, pk: int) -> str:
    # Integer arithmetic: a float timestamp could be a microsecond off and skip a row.
    return f"{(at - EPOCH) // timedelta(microseconds=1)}-{pk}"


def full_name() -> Case:
    """``Contact.full_name`` in SQL (and ``User.get_full_name``): a CJK name family name first
    without a space (``crm.l10n.person_name``)."""
    cjk = Q(first_name__regex=f"[{CJK_CLASS}]") | Q(last_name__regex=f"[{CJK_CLASS}]")
    return Case(
        When(cjk, then=Concat(Trim("last_name"), Trim("first_name"))),
        default=Trim(Concat("first_name", Value(" "), "last_name")),
    )


def person_name() -> Coalesce:
    """``User.__str__`` in SQL: the full name, else the username."""
    return Coalesce(NullIf(full_name(), Value("")), "username")


def _name_of(model: type[Model], column: str, name: F | Func) -> Subquery:
    """The name of the ``model`` row that ``column`` points at, as a scalar subquery (without
    the model's ordering: one row by primary key needs no sort, and the planner no sort node)."""
    return Subquery(model.objects.filter(pk=OuterRef(column)).order_by().values(name=name)[:1])


def _timeline_events(
    kind: str, pk: int, *, condition: Q | None = None, at: datetime | None = None, after_pk: int | None = None
) -> QuerySet[TimelineEvent]:
    """The newest ``TIMELINE_PAGE_SIZE + 1`` events of record ``pk`` (a ``kind``: company,
    contact or deal) matching ``condition``, before (``at``, ``after_pk``) when given."""
    # What the event rows print ({% timeline_events %} in activities/templatetags/activity_tags.py): a company's
    # timeline also names each event's contact and deal. Every joined table multiplies the
    # planner's work (contacts, companies and deals carry ~25 indexes each): with all six
    # joins, planning took 8–12 ms against ~2 ms of execution, and 2–6 ms with the five of
    # actor, activity, its type and owner, contact and deal. The activity, its type and
    # owner are joined; the names of the actor, contact and deal are scalar subqueries, each
    # planned alone (bench/FINDINGS.md §7.7).
    names = {"actor_name": _name_of(User, "actor_id", person_name())}
    if kind == "company":
        names["contact_name"] = _name_of(Contact, "contact_id", full_name())
        names["deal_name"] = _name_of(Deal, "deal_id", F("title"))
    qs = TimelineEvent.objects.all()
    if condition is not None:
        qs = qs.filter(condition)
    if at is not None:
        qs = qs.filter(Q(occurred_at__lt=at) | Q(occurred_at=at, id__lt=after_pk))
    scopes = _scopes(kind, pk)
    size = TIMELINE_PAGE_SIZE + 1
    order = ("-occurred_at", "-id")
    if len(scopes) == 1:
        page = qs.filter(scopes[0])
    else:
        # A company: the newest N+1 ids of each scope, each walking its own index, gathered
        # by PostgreSQL once (``id = ANY(ARRAY(… UNION ALL …))``); the newest N+1 events
        # overall are among them. An OR of the scopes read all four million events, and
        # ``id IN (that union)`` or the related rows joined inside it made the planner join
        # before limiting (bench/FINDINGS.md, 5.6).
        parts = [qs.filter(scope).order_by(*order).values("pk")[:size] for scope in scopes]
        page = TimelineEvent.objects.filter(AnyOf(F("pk"), ArraySubquery(parts[0].union(*parts[1:], all=True))))
    return page.select_related("activity__type", "activity__owner").annotate(**names).order_by(*order)[:size]


def _compiled_timeline(key: tuple[str, bool], **values: Any) -> QuerySet[TimelineEvent]:
    return _timeline_events(key[0], **values)


# The unfiltered timeline (a record's page and its "Load more"), compiled once per process
# and kind: building and compiling this query cost more Python time than PostgreSQL took to
# run it (crm/compiled.py). Filtered pages build theirs each time.
_UNFILTERED_TIMELINE = CompiledQuery(_compiled_timeline, pk=int, at=datetime, after_pk=int)


def timeline_page(
    obj: Customer,
    *,
    filter_key: str = "",
    cursor: str = "",
    types: Iterable[ActivityType] = (),
    extras: TimelineExtras | None = None,
) -> TimelinePage:
    """One page of a customer's timeline, newest first, keyset-paginated (constant queries)."""
    kind = customer_kind(obj)
    condition = timeline_filter_q(filter_key, types, extras)
    position = parse_cursor(cursor) if cursor else None
    after = {"at": position[0], "after_pk": position[1]} if position else {}
    if condition is None:
        events = _UNFILTERED_TIMELINE.fetch((kind, bool(after)), pk=obj.pk, **after)
    else:
        events = list(_timeline_events(kind, obj.pk, condition=condition, **after))
    has_more = len(events) > TIMELINE_PAGE_SIZE
    events = events[:TIMELINE_PAGE_SIZE]
    return TimelinePage(
        events=events,
        has_more=has_more,
        next_cursor=encode_cursor(events[-1].occurred_at, events[-1].pk) if has_more else "",
    )


# --- The deals board ----------------------------------------------------------------------


def next_activity_map(deal_ids: Iterable[int], *, brief: bool = False) -> dict[int, Activity | ListRow]:
    """Each deal's next open activity (earliest due first, undated last) in ONE query, with its
    type; ``brief``: a row of only its id, subject and due date (a board card's line)."""
    ids = list(deal_ids)
    if not ids:
        return {}
    qs = (
        Activity.objects.filter(deal_id__in=ids, done_at__isnull=True)
        .order_by("deal_id", "due_at", "id")
        .distinct("deal_id")
    )
    if brief:
        return {row["deal_id"]: row for row in list_rows(qs, ("id", "deal_id", "subject", "due_at"))}
    return {activity.deal_id: activity for activity in qs.select_related("type")}


# --- My day -------------------------------------------------------------------------------

# Rows per My day section. The benchmark's reps have thousands of open activities (1,700
# overdue, 950 this week); 150 rows with a toggle form and a reschedule menu each made the page
# cost 100+ ms of rendering. Each section shows the most urgent ones and links to the full,
# paginated list of exactly that section (``activities:list?owner=…&status=…``).
MY_DAY_LIMIT = 20
# My day's sections, each also a status filter of the activity list.
DAY_SECTIONS = ("overdue", "today", "week")


def day_bounds(now: datetime) -> tuple[datetime, datetime]:
    local = timezone.localtime(now)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=1)


def people_whose_day_user_may_see(user: User) -> list[User]:
    """Managers switch between members of teams they manage; admins between everyone. By
    name, from the users already loaded for this request (``user.visible_users``: active
    users by name, a superset of the ones the user may edit)."""
    return [person for person in user.visible_users if user.is_admin or person.pk in user.editable_owner_ids]


def stale_deals(owner: User, *, now: datetime | None = None, limit: int = 20) -> list[Deal]:
    """The owner's open deals quiet for longer than their stage's rotting days (the pipeline
    editor's setting; DEAL_STALE_DAYS when a stage sets none)."""
    now = now or timezone.now()
    default_days = getattr(settings, "DEAL_STALE_DAYS", 14)
    return _STALE_DEALS.fetch((default_days, limit), owner=owner.pk, now=now)


def _stale_deals(key: tuple[int, int], *, owner: int, now: datetime) -> QuerySet[Deal]:
    default_days, limit = key
    quiet_since = Coalesce("last_activity_at", "created_at")
    days = Coalesce("stage__rotting_days", Value(default_days))
    stale_from = ExpressionWrapper(quiet_since + days * Value(timedelta(days=1)), output_field=DateTimeField())
    # The owner's open deals are few (an indexed owner/status lookup); each is compared with
    # its own stage's limit.
    return (
        Deal.objects.open()
        .filter(owner=owner)
        .alias(stale_from=stale_from)
        .filter(stale_from__lt=now)
        .select_related("company", "stage")
        # What My day shows of them; not the wide deal and company rows.
        .only("title", "owner_id", "last_activity_at", "created_at", "company__name", "stage__name")
        .order_by("last_activity_at", "id")[:limit]
    )


# My day's stale deals, on every home page: built and compiled once per limit.
_STALE_DEALS = CompiledQuery(_stale_deals, owner=int, now=datetime)


def day_section_q(section: str, now: datetime) -> Q:
    """The open activities of a My day section ("overdue", "today", "week") at ``now``:
    overdue is due before now, today is due from now until midnight, week is due from
    tomorrow until a week after today began. My day and the list's filter share it."""
    today_start, tomorrow = day_bounds(now)
    return _day_sections(now, tomorrow, today_start + timedelta(days=7))[section]


def _day_sections(now: datetime, tomorrow: datetime, week_end: datetime) -> dict[str, Q]:
    """``day_section_q`` of each section, from the three instants that bound them."""
    bounds = {
        "overdue": Q(due_at__lt=now),
        "today": Q(due_at__gte=now, due_at__lt=tomorrow),
        "week": Q(due_at__gte=tomorrow, due_at__lt=week_end),
    }
    return {section: Q(done_at__isnull=True) & bound for section, bound in bounds.items()}


class _Count(Func):
    """``COUNT(*)`` as a plain expression (no GROUP BY), for a scalar subquery."""

    template = "COUNT(*)"
    output_field = IntegerField()


# What a row shows (activities/templatetags/activity_rows.py); the wide customer rows are not
# loaded for a name.
MY_DAY_ROW_FIELDS = (
    "subject",
    "due_at",
    "done_at",
    "owner_id",
    "type__name",
    "type__key",
    "type__icon",
    "type__color",
    "company__name",
    "contact__first_name",
    "contact__last_name",
    "deal__title",
)


def _my_day_rows(_key: tuple, *, owner: int, now: datetime, tomorrow: datetime, week_end: datetime) -> QuerySet:
    sections = _day_sections(now, tomorrow, week_end)
    mine = Activity.objects.filter(owner=owner).order_by()
    # Each section's first ids walk the open-by-due index (activity_owner_open_due) with a
    # LIMIT; PostgreSQL gathers the three lists once (``id = ANY(ARRAY(… UNION ALL …))``) and
    # joins the related rows for those ids only. The sizes are uncorrelated scalar subqueries:
    # InitPlans run once each, index-only counts on the same index; every row carries all
    # three, and with no rows every section is empty. (A UNION of three select_related
    # queries took 7–10 ms to plan; bench/FINDINGS.md, "My day and home".)
    first_ids = [
        mine.filter(sections[section]).order_by("due_at", "id").values("pk")[:MY_DAY_LIMIT] for section in DAY_SECTIONS
    ]
    totals = {
        f"{section}_total": Subquery(mine.filter(sections[section]).annotate(n=_Count()).values("n"))
        for section in DAY_SECTIONS
    }
    return (
        Activity.objects.filter(AnyOf(F("pk"), ArraySubquery(first_ids[0].union(*first_ids[1:], all=True))))
        .select_related("type", "company", "contact", "deal")
        .only(*MY_DAY_ROW_FIELDS)
        .annotate(**totals)
        .order_by("due_at", "id")
    )


# My day's one query, on every home page: built and compiled once.
_MY_DAY = CompiledQuery(_my_day_rows, owner=int, now=datetime, tomorrow=datetime, week_end=datetime)


def my_day(owner: User, *, now: datetime | None = None) -> dict[str, object]:
    """The first ``MY_DAY_LIMIT`` activities of each section (earliest due first) and each
    section's exact size, in ONE query."""
    now = now or timezone.now()
    today_start, tomorrow = day_bounds(now)
    week_end = today_start + timedelta(days=7)
    rows = _MY_DAY.fetch(owner=owner.pk, now=now, tomorrow=tomorrow, week_end=week_end)
    buckets: dict[str, list[Activity]] = {section: [] for section in DAY_SECTIONS}
    counts = dict.fromkeys(DAY_SECTIONS, 0)
    for activity in rows:
        key = "overdue" if activity.due_at < now else "today" if activity.due_at < tomorrow else "week"
        buckets[key].append(activity)
    if rows:
        counts = {section: getattr(rows[0], f"{section}_total") for section in DAY_SECTIONS}
    return {
        "overdue": buckets["overdue"],
        "today": buckets["today"],
        "upcoming": buckets["week"],
        "counts": {"overdue": counts["overdue"], "today": counts["today"], "upcoming": counts["week"]},
        "stale_deals": stale_deals(owner, now=now),
        "stale_days": getattr(settings, "DEAL_STALE_DAYS", 14),
    }


def today_counts(user: User, *, now: datetime | None = None) -> dict[str, int]:
    """Overdue and due-today counts for the home panel (one query)."""
    now = now or timezone.now()
    _start, tomorrow = day_bounds(now)
    return (
        Activity.objects.open()
        .filter(owner=user, due_at__lt=tomorrow)
        .aggregate(overdue=Count("id", filter=Q(due_at__lt=now)), today=Count("id", filter=Q(due_at__gte=now)))
    )


# --- Calendar -----------------------------------------------------------------------------

CALENDAR_LIMIT = 3000


def calendar_owners(
    user: User, *, user_id: int | None = None, team_id: int | None = None
) -> tuple[list[int], User | None, Team | None]:
    """Whose activities the calendar shows: a team (members the viewer may read), a visible
    person, or the viewer. Unknown or invisible ids fall back to the viewer."""
    if team_id is not None:
        team = teams_visible_to(user).filter(pk=team_id).first()
        if team is not None:
            member_ids = set(team.members.values_list("id", flat=True)) | set(
                team.managers.values_list("id", flat=True)
            )
            if not user.is_admin:
                member_ids &= set(user.visible_owner_ids)
            return sorted(member_ids), None, team
    if user_id is not None:
        person = users_visible_to(user).filter(pk=user_id).first()
        if person is not None:
            return [person.pk], person, None
    return [user.pk], user, None


def calendar_activities(owner_ids: list[int], start: datetime, end: datetime) -> dict[date, list[Activity]]:
    qs = (
        Activity.objects.filter(owner_id__in=owner_ids, due_at__gte=start, due_at__lt=end)
        .select_related("type", "owner")
        .order_by("due_at", "id")[:CALENDAR_LIMIT]
    )
    days: dict[date, list[Activity]] = {}
    for activity in qs:
        days.setdefault(timezone.localtime(activity.due_at).date(), []).append(activity)
    return days


def feed_activities(user: User, *, now: datetime | None = None) -> list[Activity]:
    now = now or timezone.now()
    return list(
        Activity.objects.filter(owner=user, due_at__gte=now - timedelta(days=90), due_at__lt=now + timedelta(days=365))
        .select_related("type", "company", "contact", "deal")
        .order_by("due_at", "id")[:CALENDAR_LIMIT]
    )


def activity_list_queryset(
    user: User, form: Any, filtered: bool, *, now: datetime | None = None
) -> tuple[QuerySet[Activity], Company | None, bool]:
    """The activities of the list as ``form`` (an ``ActivityFilterForm``) filters them, only
    what ``user`` may see; with the company it is limited to, and whether it sorts by due time.
    Also what the list's bulk actions run on ("all matching")."""
    now = now or timezone.now()
    filters = form.filters() if filtered else {}
    qs = Activity.objects.all()
    if "owner" in filters and user.can_read_owner(filters["owner"].pk):
        # One visible assignee (e.g. a "Show all" link of My day): ``visible_to`` adds nothing
        # but an ``owner_id IN (…)`` that, ANDed with ``owner_id = …``, made PostgreSQL expect
        # a handful of rows and sort all of them (bench/FINDINGS.md, "My day and home").
        qs = qs.filter(owner=filters["owner"])
    else:
        qs = qs.visible_to(user)
    if "type" in filters:
        qs = qs.filter(type=filters["type"])
    if "owner" in form.errors:
        # Someone whose activities the user may not see (e.g. a "Show all" link of My day
        # opened by an outsider): nothing, rather than everyone's.
        qs = qs.none()
    status = filters.get("status")
    if status == "open":
        qs = qs.open()
    elif status == "done":
        qs = qs.done()
    elif status in DAY_SECTIONS:
        # My day's sections ("Show all N overdue"): exactly the activities that section counts.
        qs = qs.filter(day_section_q(status, now))
    company = None
    if "company" in filters:
        company = Company.objects.visible_to(user).filter(pk=filters["company"]).first()
        if company is not None:
            qs = qs.filter(company=company)
    by_due = filters.get("sort") == "due"
    date_field = "due_at" if by_due else "created_at"
    tz = timezone.get_current_timezone()
    if "date_from" in filters:
        qs = qs.filter(**{f"{date_field}__gte": datetime.combine(filters["date_from"], datetime.min.time(), tzinfo=tz)})
    if "date_to" in filters:
        day_after = filters["date_to"] + timedelta(days=1)
        qs = qs.filter(**{f"{date_field}__lt": datetime.combine(day_after, datetime.min.time(), tzinfo=tz)})
    return qs, company, by_due


# --- Attachments on the timeline (files are contacts.Attachment rows) ----------------------


def _attachment_look(_loaded: Any, events: list[TimelineEvent]) -> dict[int, EventLook]:
    from django.urls import reverse
    from django.utils.html import format_html
    from django.utils.translation import gettext

    looks = {}
    label = gettext("File attached")
    for event in events:
        info = event.data or {}
        detail = ""
        if isinstance(info.get("attachment_id"), int):
            url = reverse("contacts:attachment-view", args=[info["attachment_id"]])
            detail = format_html(
                '<div class="small mt-1"><a href="{}"><i class="bi bi-paperclip" aria-hidden="true"></i> {}</a></div>',
                url,
                info.get("name", ""),
            )
        looks[event.pk] = EventLook(icon="bi-paperclip", color="#6c757d", label=label, detail_html=detail)
    return looks


def attachment_timeline_kind() -> TimelineKind:
    """Files attached to a customer, its deals, activities or cases, linked to their preview page
    (which checks access again)."""
    return TimelineKind(
        kind="attachment",
        label=gettext_noop("Files"),
        all_label=gettext_noop("All files"),
        load=lambda: None,
        options=lambda _loaded: [],
        look=_attachment_look,
    )


# --- The calendar's time grid (week and day views) ------------------------------------------

GRID_FIRST_HOUR = 7
GRID_LAST_HOUR = 21  # the grid ends at 21:00
GRID_HOUR_PX = 48
GRID_SLOT_MINUTES = 30


def calendar_grid(
    user: User, days: list[date], by_day: dict[date, list[Activity]], *, today: date, max_lanes: int = 3
) -> list[dict[str, Any]]:
    """One column per day: timed items placed by start and length (pixels from the grid's
    top), overlapping ones side by side in at most ``max_lanes`` lanes (``more``: the "+N
    more" tiles of busier times), items before or after the grid's hours listed above it, and
    the empty slots a click turns into a new meeting. ``can_move``: the user may reschedule
    it (drag)."""
    tz = timezone.get_current_timezone()
    grid_minutes = (GRID_LAST_HOUR - GRID_FIRST_HOUR) * 60
    px_per_minute = GRID_HOUR_PX / 60
    columns = []
    for day in days:
        placed, outside = [], []
        for activity in by_day.get(day, []):
            local = timezone.localtime(activity.due_at, tz)
            start = (local.hour - GRID_FIRST_HOUR) * 60 + local.minute
            if activity.ends_at and activity.ends_at > activity.due_at:
                length = int((activity.ends_at - activity.due_at).total_seconds() // 60)
            else:
                length = activity.duration_minutes or GRID_SLOT_MINUTES
            item = {
                "activity": activity,
                "time": f"{local.hour:02d}:{local.minute:02d}",
                "can_move": user.can_edit_owner(activity.owner_id),
            }
            if 0 <= start < grid_minutes:
                item["top"] = round(start * px_per_minute)
                item["height"] = round(max(min(length, grid_minutes - start), 20) * px_per_minute)
                placed.append(item)
            else:
                outside.append(item)
        more = _side_by_side(placed, max_lanes)
        slots = []
        for minutes in range(0, grid_minutes, GRID_SLOT_MINUTES):
            hour, minute = divmod(GRID_FIRST_HOUR * 60 + minutes, 60)
            slots.append({"start": f"{day.isoformat()}T{hour:02d}:{minute:02d}", "time": f"{hour:02d}:{minute:02d}"})
        columns.append(
            {"day": day, "is_today": day == today, "items": placed, "more": more, "outside": outside, "slots": slots}
        )
    return columns


def _side_by_side(items: list[dict[str, Any]], max_lanes: int) -> list[dict[str, Any]]:
    """Activities whose times overlap share their column's width, each in a lane of its own
    (``left`` and ``width`` in percent, ``right`` for its Move button): stacked, the later
    one hid the earlier one and its Move button from the mouse. A group of overlapping items
    takes as many lanes as it needs at its busiest, each item the first lane free when it
    starts, up to ``max_lanes``: a busier group shows its first ``max_lanes - 1`` lanes and,
    in the last, a "+N more" tile (returned; its items leave ``items``)."""
    items.sort(key=lambda item: (item["top"], -item["height"]))
    shown: list[dict[str, Any]] = []
    more: list[dict[str, Any]] = []
    group: list[dict[str, Any]] = []
    lane_ends: list[int] = []  # the bottom of the last item in each lane of the current group

    def close_group() -> None:
        lanes = len(lane_ends)
        # Past ``max_lanes``, the last lane is the tile's and later lanes are not drawn.
        shown_lanes = lanes if lanes <= max_lanes else max_lanes - 1
        kept = [member for member in group if member["lane"] < shown_lanes]
        hidden = [member for member in group if member["lane"] >= shown_lanes]
        width = 100 / min(lanes, max_lanes)
        for member in kept:
            member["left"] = f"{member['lane'] * width:.4g}"
            member["width"] = f"{width:.4g}"
            member["right"] = f"{100 - (member['lane'] + 1) * width:.4g}"
        shown.extend(kept)
        if hidden:
            first = min(hidden, key=lambda member: member["top"])
            more.append(
                {
                    "count": len(hidden),
                    "time": first["time"],
                    "top": first["top"],
                    "left": f"{(max_lanes - 1) * width:.4g}",
                    "width": f"{width:.4g}",
                }
            )

    for item in items:
        if group and item["top"] >= max(lane_ends):
            close_group()
            group, lane_ends = [], []
        lane = next((n for n, end in enumerate(lane_ends) if end <= item["top"]), len(lane_ends))
        if lane == len(lane_ends):
            lane_ends.append(0)
        lane_ends[lane] = item["top"] + item["height"]
        item["lane"] = lane
        group.append(item)
    if group:
        close_group()
    items[:] = shown
    return more


def grid_hours() -> list[str]:
    return [f"{hour:02d}:00" for hour in range(GRID_FIRST_HOUR, GRID_LAST_HOUR)]
