"""Who may open, change and pin saved reports and dashboards (one access helper per model),
and what a dashboard item shows.

- A saved report is readable by its owner, by the members and managers of the team it is
  shared with, and by admins; only its owner (or an admin) changes or deletes it. Whoever
  opens it sees the figures of their own report scope.
- A dashboard is a user's own or a team's. A team's dashboards are read by its members and
  managers; they may pin to them; only the team's managers (or admins) choose the default.

Dashboard items are of a *kind*. Today the only kind is a saved report; saved list views pin
later by adding a ``DashboardItemKind`` value, a nullable foreign key on ``DashboardItem`` and
a renderer registered here with ``register_item_kind`` (it gets the item and the request and
returns the template and context of its card).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest

from crm.models import Team, User
from reports.models import Dashboard, DashboardItem, SavedReport

ItemRenderer = Callable[[DashboardItem, HttpRequest], dict[str, Any]]
_ITEM_RENDERERS: dict[str, ItemRenderer] = {}


def register_item_kind(kind: str, renderer: ItemRenderer) -> None:
    _ITEM_RENDERERS[kind] = renderer


def item_renderer(kind: str) -> ItemRenderer | None:
    return _ITEM_RENDERERS.get(kind)


def _team_ids(user: User) -> list[int]:
    return [team.pk for team in user.visible_teams]


def saved_reports_visible_to(user: User) -> QuerySet[SavedReport]:
    qs = SavedReport.objects.select_related("owner", "team")
    if user.is_admin:
        return qs
    return qs.filter(Q(owner=user) | Q(team_id__in=_team_ids(user)))


def saved_report_for_user(user: User, pk: int, *, write: bool = False) -> SavedReport:
    report = saved_reports_visible_to(user).filter(pk=pk).first()
    if report is None or (write and not (user.is_admin or report.owner_id == user.pk)):
        raise Http404("No such report.")
    return report


def dashboards_visible_to(user: User) -> QuerySet[Dashboard]:
    qs = Dashboard.objects.select_related("team")
    if user.is_admin:
        return qs
    return qs.filter(Q(user=user) | Q(team_id__in=_team_ids(user)))


def dashboard_for_user(user: User, pk: int) -> Dashboard:
    dashboard = dashboards_visible_to(user).filter(pk=pk).first()
    if dashboard is None:
        raise Http404("No such dashboard.")
    return dashboard


def can_manage_team(user: User, team: Team | None) -> bool:
    """Managers of ``team`` (and admins) create its dashboards and choose its default."""
    if team is None:
        return False
    return user.is_admin or (user.is_manager and team.managers.filter(pk=user.pk).exists())


def managed_teams(user: User) -> list[Team]:
    if user.is_admin:
        return list(Team.objects.all())
    if user.is_manager:
        return list(user.managed_teams.all())
    return []


def default_dashboards(user: User) -> QuerySet[Dashboard]:
    """The default dashboards of the user's teams, shown on the Reports home."""
    return dashboards_visible_to(user).filter(is_team_default=True, team_id__in=_team_ids(user))
