"""Row queries read with ``values()`` (crm/rows.py)."""

from __future__ import annotations

import pytest

from crm.models import SavedView, Team
from crm.rows import ListRow, list_rows, names_by_subquery
from crm.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

FIELDS = ("id", "name", "owner__username", "team__name")


def test_related_names_come_from_subqueries_with_the_join_s_values():
    owner = UserFactory(username="ana")
    team = Team.objects.create(name="North")
    shared = SavedView.objects.create(owner=owner, list_name="deals", name="Shared", team=team)
    private = SavedView.objects.create(owner=owner, list_name="deals", name="Private")

    rows = list_rows(SavedView.objects.annotate(**names_by_subquery(SavedView, FIELDS)).order_by("id"), FIELDS)

    assert "JOIN" not in str(rows.query)
    assert list(rows) == [
        ListRow(id=shared.pk, name="Shared", owner__username="ana", team__name="North"),
        ListRow(id=private.pk, name="Private", owner__username="ana", team__name=None),  # no team: NULL, as a left join
    ]
    joined = list(list_rows(SavedView.objects.order_by("id"), FIELDS))
    assert "JOIN" in str(list_rows(SavedView.objects.all(), FIELDS).query) and list(rows) == joined


def test_only_a_column_one_foreign_key_away_is_looked_up():
    assert set(names_by_subquery(SavedView, FIELDS)) == {"owner__username", "team__name"}
    with pytest.raises(ValueError, match="owner__team__name"):
        names_by_subquery(SavedView, ("owner__team__name",))
    with pytest.raises(ValueError, match="name__x"):
        names_by_subquery(SavedView, ("name__x",))
