"""Saved list views: a list's filters, sort and columns under a name, private or shared with a team.

A view is a URL: ``<list>?view=<id>`` opens the list with the view's query string (anything
else in the URL refines it). The list remembers the last view each user opened
(``LastListView``): coming back to the bare list URL reopens it; ``?view=all`` goes back to
the plain list and forgets it.

Access: a private view is its owner's only; a view shared with a team is readable by that
team's members and managers. Everyone else gets a 404, as for any record. Only the owner
changes or deletes a view.

Every list page calls ``list_state(request, list_name, columns=...)`` once: at most three
small queries (the view, the remembered view, the menu of views) whatever the page size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponseRedirect, QueryDict
from django.utils.translation import gettext_lazy as _

from crm.compiled import CompiledQuery
from crm.models import LastListView, SavedView, SavedViewList, Team, User
from crm.params import clean_text, parse_id

# Parameters a view never stores: paging cursors and the view itself.
TRANSIENT = ("after", "before", "page", "view", "cols")
MAX_COLUMNS = 40


@dataclass(frozen=True)
class Column:
    """A list column the user may show or hide (``key``: a row renderer's column key)."""

    key: str
    label: Any
    default: bool = True


@dataclass
class ListState:
    """What a list page needs to know about views: the effective query, the columns to show,
    the open view and the menu of views."""

    list_name: str
    params: QueryDict
    columns: list[str]
    all_columns: list[Column]
    view: SavedView | None = None
    views: list[SavedView] = field(default_factory=list)
    redirect: HttpResponseRedirect | None = None
    share_teams: list[Team] = field(default_factory=list)

    @property
    def query(self) -> str:
        """The effective filters and sort, as the "Save view" form stores them."""
        params = self.params.copy()
        for name in TRANSIENT:
            params.pop(name, None)
        return params.urlencode()

    @property
    def hidden_params(self) -> list[tuple[str, str]]:
        """The effective filters and sort as (name, value) pairs, for a form that keeps them."""
        return [(name, value) for name, values in self.params.lists() if name not in TRANSIENT for value in values]

    @property
    def columns_csv(self) -> str:
        return ",".join(self.columns)

    @property
    def column_choices(self) -> list[dict[str, Any]]:
        shown = set(self.columns)
        return [{"key": c.key, "label": c.label, "checked": c.key in shown} for c in self.all_columns]

    @property
    def is_custom_columns(self) -> bool:
        return self.columns != [c.key for c in self.all_columns if c.default]


def views_visible_to(user: User | int, list_name: str | None = None) -> QuerySet[SavedView]:
    """The user's own views and those shared with a team the user belongs to or manages."""
    team_ids = Team.objects.filter(Q(members=user) | Q(managers=user)).values("pk")
    qs = SavedView.objects.filter(Q(owner=user) | Q(team__in=team_ids))
    if list_name is not None:
        qs = qs.filter(list_name=list_name)
    return qs.distinct()


def _views_menu(list_name: str, *, user: int) -> QuerySet[SavedView]:
    remembered = LastListView.objects.filter(user=user, list_name=list_name, view=OuterRef("pk"))
    return (
        views_visible_to(user, list_name)
        .select_related("team")
        .annotate(is_last=Exists(remembered))
        .order_by("name", "id")
    )


# The menu of a list's views, on every list page: built and compiled once per list.
_VIEWS_MENU = CompiledQuery(_views_menu, user=int)


def saved_view_for_user(user: User, pk: int, *, write: bool = False) -> SavedView:
    """The view if ``user`` may open it (else 404); with ``write``, only its owner's."""
    qs = SavedView.objects.filter(owner=user) if write else views_visible_to(user)
    view = qs.filter(pk=pk).select_related("team").first()
    if view is None:
        raise Http404
    return view


def _parse_columns(raw: str, all_columns: list[Column]) -> list[str]:
    known = {c.key for c in all_columns}
    chosen = [key for key in raw.split(",") if key in known]
    return list(dict.fromkeys(chosen))[:MAX_COLUMNS]


def list_state(request: HttpRequest, list_name: str, *, columns: list[Column]) -> ListState:
    """Resolve ``?view=`` and the remembered view of ``list_name`` for this request.

    The returned ``params`` replace ``request.GET`` for the list's filter form; ``redirect`` is
    set when the user came back to the bare list and a remembered view should open. One query
    (the menu of views, each flagged when it is the remembered one) and, when a view is opened
    that was not the remembered one, one upsert.
    """
    user = request.user
    get = request.GET
    raw_view = get.get("view", "")
    default_columns = [c.key for c in columns if c.default]
    state = ListState(list_name=list_name, params=get.copy(), columns=default_columns, all_columns=columns)
    view_id = parse_id(raw_view, name="view") if raw_view and raw_view != "all" else None
    state.views = _VIEWS_MENU.fetch(list_name, user=user.pk)
    state.share_teams = list(user.visible_teams)
    if raw_view == "all":
        LastListView.objects.filter(user=user, list_name=list_name).delete()
        state.params.pop("view")
    elif view_id is not None:
        view = next((v for v in state.views if v.pk == view_id), None)
        if view is None:
            raise Http404  # not this user's, not their team's, or another list's
        # The view's query first; anything in the URL besides refines it (sort links, paging).
        params = QueryDict(view.query, mutable=True)
        for name, values in get.lists():
            if name != "view":
                params.setlist(name, values)
        state.params = params
        state.view = view
        state.columns = _parse_columns(",".join(view.columns), columns) or default_columns
        if not view.is_last:
            LastListView.objects.bulk_create(
                [LastListView(user=user, list_name=list_name, view=view)],
                update_conflicts=True,
                unique_fields=["user", "list_name"],
                update_fields=["view"],
            )
    elif not get:
        last = next((v for v in state.views if v.is_last), None)
        if last is not None:
            state.redirect = HttpResponseRedirect(f"{request.path}?{urlencode({'view': last.pk})}")
            return state
    if "cols" in get:
        values = get.getlist("cols")[: MAX_COLUMNS + 1]
        raw = ",".join(clean_text(value, name="cols", max_length=100) for value in values)
        state.columns = _parse_columns(raw, columns)
    return state


# --- Services -------------------------------------------------------------------------------


@transaction.atomic
def saved_view_save(
    *,
    actor: User,
    list_name: str,
    name: str,
    query: str,
    columns: list[str],
    team: Team | None,
    view: SavedView | None = None,
) -> SavedView:
    """Create a view, or change ``view`` (its owner's), and make it the list's remembered one."""
    if list_name not in SavedViewList.values:
        raise ValueError(f"unknown list {list_name!r}")
    params = QueryDict(query, mutable=True)
    for transient in TRANSIENT:
        params.pop(transient, None)
    if view is None:
        view = SavedView(owner=actor, list_name=list_name)
    if (
        team is not None
        and not actor.is_admin
        and not Team.objects.filter(Q(members=actor) | Q(managers=actor), pk=team.pk).exists()
    ):
        raise ValueError("a view is shared with one of its owner's teams")
    view.name = name
    view.query = params.urlencode()
    view.columns = columns
    view.team = team
    view.save()
    LastListView.objects.update_or_create(user=actor, list_name=list_name, defaults={"view": view})
    return view


def saved_view_delete(*, actor: User, view: SavedView) -> None:
    view.delete()


SHARE_PRIVATE = _("Only me")


def columns_for(builtin: list[tuple[str, Any]], model: str | None = None) -> list[Column]:
    """A list's pickable columns: its built-in ones (key, label) shown by default, then the
    custom fields of ``model``, hidden until picked."""
    from crm import custom_fields

    extra = custom_fields.list_columns(model) if model else []
    return [Column(key, label) for key, label in builtin] + [Column(key, label, default=False) for key, label in extra]


def header_cells(state: ListState, *, end: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """The header cells of the shown columns (``end``: keys of right-aligned columns)."""
    labels = {c.key: c.label for c in state.all_columns}
    return [{"key": key, "label": labels.get(key, ""), "end": key in end} for key in state.columns]
