"""Authentication backend that loads, with the signed-in user, what every page asks about them.

Every page needs the user, the owner ids they may read and change (``visible_to`` /
``editable_by``) and the unread-notification count of the bell; list pages also need the
people and teams of the owner/team filters and "Assign to" menus. Django's ``ModelBackend``
loads the user alone, and the rest cost up to five more queries per request. Here the user
row comes with the id lists, the count and the people and teams (names only, as JSON) as
subquery columns: one query.
"""

from __future__ import annotations

import functools
import json

from django.contrib.auth.backends import ModelBackend
from django.contrib.postgres.expressions import ArraySubquery
from django.db import connections
from django.db.models import Count, Exists, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce, JSONObject
from django.db.models.lookups import Exact

from crm.models import PERSON_NAME_FIELDS, Notification, Role, Team, User
from crm.prepared import PG_TYPES, Statement, Variable


def _people_columns() -> dict:
    """``users_visible_to`` and ``teams_visible_to`` of the outer user, as JSON rows (a team's
    with ``managed``: whether the outer user manages it)."""
    members, managers = Team.members.through.objects, Team.managers.through.objects
    outer_is_admin = Q(Exact(OuterRef("is_superuser"), True)) | Q(Exact(OuterRef("role"), Role.ADMIN))
    teammates = members.filter(
        Q(team__members=OuterRef(OuterRef("pk"))) | Q(team__managers=OuterRef(OuterRef("pk")))
    ).values("user_id")
    people = (
        User._default_manager.filter(is_active=True)
        .filter(outer_is_admin | Q(pk=OuterRef("pk")) | Q(pk__in=teammates))
        .order_by(*User._meta.ordering)
        .values(row=JSONObject(**{name: name for name in PERSON_NAME_FIELDS}))
    )
    teams = (
        Team.objects.filter(
            outer_is_admin
            | Exists(members.filter(team_id=OuterRef("pk"), user_id=OuterRef(OuterRef("pk"))))
            | Exists(managers.filter(team_id=OuterRef("pk"), user_id=OuterRef(OuterRef("pk"))))
        )
        .order_by(*Team._meta.ordering)
        .values(
            row=JSONObject(
                id="id",
                name="name",
                managed=Exists(managers.filter(team_id=OuterRef("pk"), user_id=OuterRef(OuterRef("pk")))),
            )
        )
    )
    return {"_people": ArraySubquery(people), "_teams": ArraySubquery(teams)}


def users_with_request_data():
    members = Team.members.through.objects
    unread = (
        Notification.objects.filter(user=OuterRef("pk"), read_at__isnull=True)
        .order_by()
        .values("user")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return User._default_manager.annotate(
        _visible_ids=ArraySubquery(
            members.filter(Q(team__members=OuterRef("pk")) | Q(team__managers=OuterRef("pk"))).values("user_id")
        ),
        _managed_ids=ArraySubquery(members.filter(team__managers=OuterRef("pk")).values("user_id")),
        _unread=Coalesce(Subquery(unread, output_field=IntegerField()), Value(0)),
        **_people_columns(),
    )


_PK_PLACEHOLDER = -7_919_313  # no user has it; marks where the user id goes in the SQL


@functools.cache
def _request_user_statement() -> Statement:
    """``users_with_request_data().filter(pk=…)``, compiled once per process and prepared on each
    connection (crm/prepared.py): the ORM takes longer to build this query (five subqueries)
    than PostgreSQL to answer it, and PostgreSQL longer to plan it than to run it."""
    sql, params = users_with_request_data().filter(pk=_PK_PLACEHOLDER).query.sql_with_params()
    if params.count(_PK_PLACEHOLDER) != 1:
        raise RuntimeError("the request-user query must take the user id exactly once")
    return Statement(sql, [Variable(PG_TYPES["int"]) if p == _PK_PLACEHOLDER else p for p in params])


def load_request_user(user_id: int) -> User | None:
    manager = User._default_manager
    sql, params = _request_user_statement().sql_with_params(connections[manager.db], [user_id])
    rows = list(manager.raw(sql, params))
    return rows[0] if rows else None


class RequestUserBackend(ModelBackend):
    """``ModelBackend`` whose ``get_user`` (the per-request load) preloads access and bell data."""

    def get_user(self, user_id):
        user = load_request_user(user_id)
        if user is None:
            return None
        if not self.user_can_authenticate(user):
            return None
        user.preload_request_data(
            visible_ids=user._visible_ids,
            managed_ids=user._managed_ids,
            unread_notifications=user._unread,
            # Raw rows skip the JSON field's decoding: Django leaves json values as text.
            people=[json.loads(row) for row in user._people],
            teams=[json.loads(row) for row in user._teams],
        )
        return user
