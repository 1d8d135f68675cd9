"""Reads on cases: the access helper every view uses, the queue lists and the case page."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

from django.core.exceptions import PermissionDenied
from django.db.models import Avg, Count, F, Q, QuerySet, Sum, When, Window
from django.db.models import Case as Case_
from django.db.models.functions import Coalesce
from django.http import Http404

from activities.models import ActivityType
from contacts.keyset import KeysetPage, SortOption, first_page, first_page_query, keyset_page
from crm.compiled import CompiledQuery
from crm.models import Team, User
from crm.rows import list_rows, names_by_subquery
from service.models import ACTIVE_STATUSES, Case, CaseActivity, CaseQueueTotal, SlaTimer

CASE_SORTS = {
    "newest": SortOption(label="newest", keys=(F("created_at"),), descending=True),
    "oldest": SortOption(label="oldest", keys=(F("created_at"),)),
}
LIST_PAGE_SIZE = 50
CONVERSATION_TYPES = ("note", "email", "call")


def queues_for(user: User) -> QuerySet[Team]:
    """The teams whose queues ``user`` works in (admins: every team)."""
    if user.is_admin:
        return Team.objects.all()
    return Team.objects.filter(Q(members=user) | Q(managers=user)).distinct()


def queue_members(teams: QuerySet[Team]) -> QuerySet[User]:
    """Active members and managers of ``teams``: the people a case there may be assigned to."""
    return (
        User.objects.filter(is_active=True)
        .filter(Q(teams__in=teams) | Q(managed_teams__in=teams))
        .distinct()
        .order_by("first_name", "last_name", "username")
    )


def can_edit_case(user: User, case: Case) -> bool:
    """Admins, the assignee and the queue's managers change a case; a team member may take
    an unassigned case of the queue."""
    if user.is_admin or case.assignee_id == user.pk or case.team_id in user.managed_team_ids:
        return True
    # The teams they belong to or manage (loaded with the user; a managed queue returned above).
    return case.assignee_id is None and any(team.pk == case.team_id for team in user.visible_teams)


def editable_case_ids(user: User, cases: list[Case]) -> set[int]:
    """The ``cases`` ``user`` may change (``can_edit_case`` for a page of them), from the teams
    loaded with the user (``crm.backends``: no query): their own, their managed queues' and
    the unassigned cases of their queues."""
    if user.is_admin:
        return {case.pk for case in cases}
    teams = {team.pk for team in user.visible_teams}  # the teams they belong to or manage
    managed = user.managed_team_ids
    return {
        case.pk
        for case in cases
        if case.assignee_id == user.pk
        or case.team_id in managed
        or (case.team_id in teams and case.assignee_id is None)
    }


def case_for_user(user: User, pk: int, *, write: bool = False) -> Case:
    """The case if ``user`` may see it (``Http404`` otherwise); with ``write``, only if they may change it."""
    try:
        case = (
            Case.objects.visible_to(user)
            .select_related("company", "contact", "team", "assignee", "created_by")
            .get(pk=pk)
        )
    except Case.DoesNotExist:
        raise Http404 from None
    if write and not can_edit_case(user, case):
        raise PermissionDenied
    return case


# What a row of the case list prints (``templatetags.case_rows``) and what decides whether its
# bulk tick box shows (``editable_case_ids``: team and assignee), read as plain rows.
CASE_ROW_FIELDS = (
    *("id", "subject", "priority", "status", "sla_breached", "created_at", "custom"),
    *("first_response_due_at", "first_responded_at", "resolution_due_at"),
    *("company_id", "company__name", "contact_id", "contact__first_name", "contact__last_name"),
    *("team_id", "team__name", "assignee_id", "assignee__username", "assignee__first_name", "assignee__last_name"),
)


# The rows' related names read by primary key (``crm.rows.names_by_subquery``: a rep's or
# manager's page query is planned on every run). Built once: ``annotate`` copies them.
_CASE_ROW_NAMES = names_by_subquery(Case, CASE_ROW_FIELDS)


def _case_rows(qs: QuerySet[Case]) -> QuerySet:
    """``qs`` as ``ListRow``s of ``CASE_ROW_FIELDS``."""
    return list_rows(qs.annotate(**_CASE_ROW_NAMES), CASE_ROW_FIELDS)


def case_page(user: User, qs: QuerySet[Case], *, sort: str, after: str, before: str) -> KeysetPage:
    """A page of the case list as ``ListRow``s of ``CASE_ROW_FIELDS`` (keyset paging)."""
    option = CASE_SORTS.get(sort, CASE_SORTS["newest"])
    return keyset_page(_case_rows(qs), option, after=after, before=before, size=LIST_PAGE_SIZE)


def _unfiltered_cases(key: tuple[bool, str], *, user: int = 0, teams: list[int] | tuple = ()) -> QuerySet:
    is_admin, sort = key
    qs = Case.objects.visible_to(_CaseViewer(is_admin, user, tuple(teams))).filter(status__in=list(ACTIVE_STATUSES))
    return first_page_query(_case_rows(qs), CASE_SORTS[sort], size=LIST_PAGE_SIZE)


_UNFILTERED_CASES = CompiledQuery(_unfiltered_cases, user=int, teams=list)


def unfiltered_case_page(user: User, *, sort: str) -> KeysetPage:
    """The case list as most visits open it — the active cases the user sees, no filter, the
    first page in ``sort`` — from a query built and compiled once per role, sort and number of
    the user's teams (and prepared on a kept connection): what ``case_page`` gives for the
    filter form's default, without building the query (~1 ms) and planning it (~1.3 ms)."""
    option = CASE_SORTS.get(sort, CASE_SORTS["newest"])
    sort = option.label
    if user.is_admin:
        rows = _UNFILTERED_CASES.fetch((True, sort))
    else:
        teams = sorted(team.pk for team in user.visible_teams)
        rows = _UNFILTERED_CASES.fetch((False, sort), user=user.pk, teams=teams)
    return first_page(rows, option, size=LIST_PAGE_SIZE)


def case_conversation(case: Case) -> list[CaseActivity]:
    return list(
        CaseActivity.objects.filter(case=case)
        .select_related("activity__type", "activity__created_by", "activity__owner")
        .order_by("created_at", "id")
    )


def case_timers(case: Case) -> list[SlaTimer]:
    return list(SlaTimer.objects.filter(case=case).order_by("target", "-kind"))


def conversation_types() -> list[ActivityType]:
    types = {t.key: t for t in ActivityType.objects.filter(key__in=CONVERSATION_TYPES, active=True)}
    return [types[key] for key in CONVERSATION_TYPES if key in types]


@dataclass(frozen=True)
class CustomerCases:
    cases: list[Case]
    active: int
    breached: int
    csat_average: float | None
    csat_count: int


CUSTOMER_CASES_LIMIT = 10


@dataclass(frozen=True)
class _CaseViewer:
    """What ``CaseQuerySet.visible_to`` reads of a user, as the stand-in a compiled query is
    built with (its ids are then markers; each call passes the viewer's own)."""

    is_admin: bool
    pk: int = 0
    team_ids: tuple[int, ...] = ()

    @property
    def visible_teams(self) -> list[SimpleNamespace]:
        return [SimpleNamespace(pk=pk) for pk in self.team_ids]


def _customer_cases(
    key: tuple[str, bool], *, record: int, user: int = 0, teams: list[int] | tuple = ()
) -> QuerySet[Case]:
    kind, is_admin = key
    active = Case_(When(status__in=list(ACTIVE_STATUSES), then=1), default=0)
    breached = Case_(When(status__in=list(ACTIVE_STATUSES), sla_breached=True, then=1), default=0)
    return (
        Case.objects.visible_to(_CaseViewer(is_admin, user, tuple(teams)))
        .filter(**{kind: record})
        .select_related("team", "assignee")
        .annotate(
            n_active=Window(Sum(active)),
            n_breached=Window(Sum(breached)),
            csat_avg=Window(Avg("csat_score")),
            csat_n=Window(Count("csat_score")),
        )
        .order_by("-created_at", "-id")[:CUSTOMER_CASES_LIMIT]
    )


# A company's or contact's cases panel, on every 360 page: built and compiled once per kind,
# role and number of the viewer's teams.
_CUSTOMER_CASES = CompiledQuery(_customer_cases, record=int, user=int, teams=list)


def customer_cases(user: User, kind: str, record_id: int) -> CustomerCases:
    """A customer's cases the viewer may see (latest first) and their figures, in one query:
    the figures are window aggregates over all of them, read from the first row. ``kind`` is
    ``"company"`` or ``"contact"``."""
    if kind not in ("company", "contact"):
        raise ValueError(f"cases of a {kind!r}")
    if user.is_admin:
        rows = _CUSTOMER_CASES.fetch((kind, True), record=record_id)
    else:
        teams = sorted(team.pk for team in user.visible_teams)
        rows = _CUSTOMER_CASES.fetch((kind, False), record=record_id, user=user.pk, teams=teams)
    if not rows:
        return CustomerCases(cases=[], active=0, breached=0, csat_average=None, csat_count=0)
    first = rows[0]
    return CustomerCases(
        cases=rows,
        active=first.n_active,
        breached=first.n_breached,
        csat_average=first.csat_avg,
        csat_count=first.csat_n,
    )


@dataclass(frozen=True)
class QueueCount:
    team_id: int
    name: str
    active: int
    breached: int


def _queue_counts(totals: QuerySet[CaseQueueTotal]) -> QuerySet:
    return (
        totals.values("team_id")
        .annotate(active=Sum("cases"), breached=Coalesce(Sum("cases", filter=Q(sla_breached=True)), 0))
        .order_by()
        .values_list("team_id", "active", "breached")
    )


def _queue_count_rows(key: tuple[bool, bool], *, user: int = 0, teams: list[int] | tuple = ()) -> QuerySet:
    is_admin, in_teams = key
    if is_admin:
        return _queue_counts(CaseQueueTotal.objects.all())
    elsewhere = _queue_counts(CaseQueueTotal.objects.filter(assignee_id=user).exclude(team_id__in=teams))
    if in_teams:
        return _queue_counts(CaseQueueTotal.objects.filter(team_id__in=teams)).union(elsewhere, all=True)
    return elsewhere


# Compiled once per role and number of teams (and prepared on a kept connection).
_QUEUE_COUNTS = CompiledQuery(_queue_count_rows, user=int, teams=list)


def queue_counts(user: User) -> list[QueueCount]:
    """Active and breached cases per queue the user sees, for the list's queue tabs: the
    queues' rows of ``CaseQueueTotal`` (kept by triggers, ``service.totals``) — a few per
    queue, where counting the cases read every active case of the queues (26,538 for an
    admin at the benchmark's scale) — and the queue names from the user's teams, loaded with
    the user.

    The user's teams' queues are one index range each, and the cases of other queues
    assigned to the user a second part of the same query (``Case.visible_to``'s "their
    teams' queues or assigned to them")."""
    if user.is_admin:
        counts = _QUEUE_COUNTS.fetch((True, False))
    else:
        team_ids = sorted(team.pk for team in user.visible_teams)
        counts = _QUEUE_COUNTS.fetch((False, bool(team_ids)), user=user.pk, teams=team_ids)
    names = {team.pk: team.name for team in user.visible_teams}
    # A case of another queue still assigned to the user (they left its team): its name too.
    missing = [team_id for team_id, _active, _breached in counts if team_id not in names]
    if missing:
        names.update(Team.objects.filter(pk__in=missing).values_list("pk", "name"))
    # SUM of bigint is numeric in PostgreSQL: read as Decimal, shown as the ints they are.
    queues = [QueueCount(team_id, names[team_id], int(active), int(breached)) for team_id, active, breached in counts]
    return sorted(queues, key=lambda queue: (queue.name, queue.team_id))
