"""Whose numbers a user may see in reports, and the filters read from the URL.

Reports are stricter than record access: a rep sees only their own numbers, a manager the
members of the teams they manage (and their own), an admin everyone. A URL filter naming a
team or an owner outside that set is a 404, so tampering with ``?owner=`` reveals nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.contrib.postgres.aggregates import ArrayAgg
from django.db.models import Q
from django.http import Http404, QueryDict
from django.utils import timezone

from crm.models import Team, User
from crm.params import optional_id, parse_month
from deals.models import Pipeline
from service.selectors import queues_for

PERIOD_MONTHS = 6


@dataclass(frozen=True)
class TeamChoice:
    id: int
    name: str
    member_ids: frozenset[int]


@dataclass
class ReportScope:
    user: User
    allowed_owner_ids: frozenset[int] | None  # None: everyone (admins)
    owners: list[User]
    teams: list[TeamChoice]
    pipelines: list[Pipeline]
    pipeline: Pipeline | None = None
    team: TeamChoice | None = None
    owner: User | None = None
    start: dt.date = field(default_factory=lambda: timezone.localdate().replace(day=1))
    end: dt.date = field(default_factory=lambda: timezone.localdate().replace(day=1))

    @property
    def owner_ids(self) -> frozenset[int] | None:
        """The owners the report covers after filters; None means no owner restriction."""
        if self.owner is not None:
            return frozenset({self.owner.pk})
        if self.team is not None:
            return self.team.member_ids
        return self.allowed_owner_ids

    @property
    def owner_names(self) -> dict[int, str]:
        return {user.pk: str(user) for user in self.owners}

    @property
    def can_rebuild(self) -> bool:
        return self.user.is_admin or self.user.is_manager

    def owner_filter(self, field_name: str = "owner_id") -> Q:
        ids = self.owner_ids
        return Q() if ids is None else Q(**{f"{field_name}__in": ids})

    def months(self) -> list[dt.date]:
        months, month = [], self.start
        while month <= self.end:
            months.append(month)
            month = add_months(month, 1)
        return months

    def query(self, **overrides: str) -> str:
        """The filters as a query string, for CSV links and shareable URLs."""
        params = QueryDict(mutable=True)
        params["from"] = f"{self.start:%Y-%m}"
        params["to"] = f"{self.end:%Y-%m}"
        if self.pipeline:
            params["pipeline"] = str(self.pipeline.pk)
        if self.team:
            params["team"] = str(self.team.id)
        if self.owner:
            params["owner"] = str(self.owner.pk)
        params.update(overrides)
        return params.urlencode()


def add_months(month: dt.date, count: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + count
    return dt.date(index // 12, index % 12 + 1, 1)


def _month_param(params: QueryDict, name: str) -> dt.date | None:
    """A ``YYYY-MM`` filter within the supported years (400 otherwise); None when absent."""
    value = params.get(name) or ""
    return parse_month(value, name=name) if value.strip() else None


def report_owner_ids(user: User) -> frozenset[int] | None:
    """Whose numbers ``user`` may see (None: everyone), without loading the filter lists:
    a manager's editable owners are exactly themselves and the members of the teams they
    manage, as ``report_scope_for_user`` computes from the teams."""
    if user.is_admin:
        return None
    if user.is_manager:
        return user.editable_owner_ids
    return frozenset({user.pk})


def report_scope_for_user(user: User, params: QueryDict, *, require_pipeline: bool = False) -> ReportScope:
    """The report scope for ``user`` and the URL filters, or Http404 for a team/owner out of reach."""
    teams: list[TeamChoice] = []
    owners: list[User] = [user]
    allowed: frozenset[int] | None = frozenset({user.pk})
    if user.is_admin or user.is_manager:
        teams_qs = Team.objects.all() if user.is_admin else Team.objects.filter(managers=user)
        rows = teams_qs.annotate(member_ids=ArrayAgg("members__id", default=[])).values("id", "name", "member_ids")
        teams = [
            TeamChoice(id=row["id"], name=row["name"], member_ids=frozenset(i for i in row["member_ids"] if i))
            for row in rows
        ]
    if user.is_admin:
        allowed = None
        owners = list(User.objects.filter(is_active=True))
    elif user.is_manager:
        allowed = frozenset({user.pk}.union(*(team.member_ids for team in teams)))
        owners = list(User.objects.filter(pk__in=allowed))
    pipelines = list(Pipeline.objects.all())
    scope = ReportScope(user=user, allowed_owner_ids=allowed, owners=owners, teams=teams, pipelines=pipelines)

    team_id = optional_id(params, "team")
    if team_id is not None:
        scope.team = next((team for team in teams if team.id == team_id), None)
        if scope.team is None:
            raise Http404("No such team in your reports.")
    owner_id = optional_id(params, "owner")
    if owner_id is not None:
        scope.owner = next((owner for owner in owners if owner.pk == owner_id), None)
        if scope.owner is None or (scope.team and owner_id not in scope.team.member_ids):
            raise Http404("No such owner in your reports.")

    pipeline_id = optional_id(params, "pipeline")
    scope.pipeline = next((p for p in pipelines if p.pk == pipeline_id), None)
    if scope.pipeline is None and require_pipeline and pipelines:
        scope.pipeline = next((p for p in pipelines if p.is_default), pipelines[0])

    this_month = timezone.localdate().replace(day=1)
    end = _month_param(params, "to") or this_month
    start = _month_param(params, "from") or add_months(end, -(PERIOD_MONTHS - 1))
    if start > end:
        start, end = end, start
    # A period of decades would draw a chart nobody can read; five years is plenty.
    scope.start, scope.end = max(start, add_months(end, -59)), end
    return scope


@dataclass
class ServiceScope:
    """The queues whose service figures ``user`` may see, and the URL filters.

    Service reports follow case access rather than the sales reports' owner scope: a queue is
    a team, and a team's members and managers see its cases (``service.selectors.queues_for``),
    admins every queue. A ``team`` filter naming another queue is a 404."""

    user: User
    teams: list[TeamChoice]
    team: TeamChoice | None = None
    start: dt.date = field(default_factory=lambda: timezone.localdate().replace(day=1))
    end: dt.date = field(default_factory=lambda: timezone.localdate().replace(day=1))
    # The shared filter form shows an owner or pipeline choice only when these are given.
    owners: tuple = ()
    pipelines: tuple = ()

    @property
    def team_ids(self) -> list[int]:
        return [self.team.id] if self.team is not None else [team.id for team in self.teams]

    @property
    def team_names(self) -> dict[int, str]:
        return {team.id: team.name for team in self.teams}

    @property
    def can_rebuild(self) -> bool:
        return self.user.is_admin or self.user.is_manager

    def months(self) -> list[dt.date]:
        months, month = [], self.start
        while month <= self.end:
            months.append(month)
            month = add_months(month, 1)
        return months

    def query(self, **overrides: str) -> str:
        params = QueryDict(mutable=True)
        params["from"] = f"{self.start:%Y-%m}"
        params["to"] = f"{self.end:%Y-%m}"
        if self.team:
            params["team"] = str(self.team.id)
        params.update(overrides)
        return params.urlencode()


def service_scope_for_user(user: User, params: QueryDict) -> ServiceScope:
    """The service report scope for ``user`` and the URL filters (Http404: a queue out of reach)."""
    teams = [
        TeamChoice(id=row["id"], name=row["name"], member_ids=frozenset())
        for row in queues_for(user).order_by("name", "id").values("id", "name")
    ]
    scope = ServiceScope(user=user, teams=teams)
    team_id = optional_id(params, "team")
    if team_id is not None:
        scope.team = next((team for team in teams if team.id == team_id), None)
        if scope.team is None:
            raise Http404("No such queue in your reports.")
    this_month = timezone.localdate().replace(day=1)
    end = _month_param(params, "to") or this_month
    start = _month_param(params, "from") or add_months(end, -(PERIOD_MONTHS - 1))
    if start > end:
        start, end = end, start
    scope.start, scope.end = max(start, add_months(end, -59)), end
    return scope
