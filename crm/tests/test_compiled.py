"""Querysets compiled once and run with new values (crm/compiled.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Count, F, Q
from django.db.models.sql.compiler import SQLCompiler
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm.compiled import CompiledQuery
from crm.models import Notification
from crm.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def unread_of(key, *, user: int, before):
    return (
        Notification.objects.filter(user_id=user, read_at__isnull=True)
        .filter(Q(created_at__lt=before) | Q(created_at=before, pk__lt=user))
        .select_related("user")
        .annotate(name_length=F("user__username"), n_unread=Count("user__notifications"))
        .order_by("-created_at", "-id")
    )


def test_it_returns_what_the_queryset_returns_for_each_set_of_values(people):
    ann, bob, now = people
    compiled = CompiledQuery(unread_of, user=int, before=type(now))
    for person, before in ((ann, now), (bob, now), (ann, now - timedelta(seconds=90))):
        got = compiled.fetch("unread", user=person.pk, before=before)
        expected = list(unread_of("unread", user=person.pk, before=before))
        assert [n.pk for n in got] == [n.pk for n in expected] and got
        assert [(n.text, n.user.username, n.name_length, n.n_unread) for n in got] == [
            (n.text, n.user.username, n.name_length, n.n_unread) for n in expected
        ]
        assert all(n.user_id == person.pk and n._state.adding is False for n in got)


def test_it_builds_and_compiles_a_shape_once_then_only_runs_its_sql(people, monkeypatch):
    ann, bob, now = people
    builds = []

    def build(key, **values):
        builds.append(key)
        return unread_of(key, **values)

    compiled = CompiledQuery(build, user=int, before=type(now))
    compiled.fetch("unread", user=ann.pk, before=now)
    assert len(builds) == 2  # the second build checks that the shape does not change
    compiles = []
    original = SQLCompiler.as_sql
    monkeypatch.setattr(SQLCompiler, "as_sql", lambda self, *a, **k: compiles.append(1) or original(self, *a, **k))
    with CaptureQueriesContext(connection) as queries:
        assert [n.text for n in compiled.fetch("unread", user=bob.pk, before=now)] == ["b1"]
    assert len(builds) == 2 and compiles == [] and len(queries) == 1
    assert str(bob.pk) in queries[0]["sql"]


def test_a_shape_with_a_value_of_its_own_is_refused(people):
    ann, _bob, now = people

    def with_a_clock(key, *, user):
        return Notification.objects.filter(user_id=user, created_at__lt=timezone.now())

    with pytest.raises(ValueError, match="changes between two builds"):
        CompiledQuery(with_a_clock, user=int).fetch("clock", user=ann.pk)


def test_a_value_that_does_not_become_a_parameter_is_refused(people):
    ann, _bob, _now = people

    def sliced(key, *, user):
        return Notification.objects.order_by("pk")[: abs(user)]  # a LIMIT is written into the SQL

    with pytest.raises(ValueError, match="did not reach the SQL"):
        CompiledQuery(sliced, user=int).fetch("limit", user=ann.pk)


def test_only_ints_datetimes_and_lists_of_ints_are_compiled_in(people):
    with pytest.raises(TypeError, match="only int, date, datetime and list"):
        CompiledQuery(lambda key, *, text: Notification.objects.filter(text=text), text=str).fetch("t", text="a1")


def owned_by(key, *, users):
    return Notification.objects.filter(user_id__in=users).order_by("text")


def test_a_list_of_ids_is_compiled_once_per_length(people):
    ann, bob, _now = people
    carl = UserFactory(username="carl")
    Notification.objects.create(user=carl, text="c1")
    compiled = CompiledQuery(owned_by, users=list)
    assert [n.text for n in compiled.fetch(users=[ann.pk])] == ["a1", "a2", "a3"]
    assert [n.text for n in compiled.fetch(users=[bob.pk])] == ["b1"]
    assert [n.text for n in compiled.fetch(users=[bob.pk, carl.pk])] == ["b1", "c1"]
    assert [n.text for n in compiled.fetch(users=[carl.pk, ann.pk])] == ["a1", "a2", "a3", "c1"]
    assert len(compiled._compiled) == 2


def test_the_active_language_is_part_of_the_shape(people, settings):
    """Collations are written into the SQL, not passed as parameters: a shape compiled under
    one language must not serve another."""
    settings.DATABASE_PREPARED_STATEMENTS = False  # the SQL itself is read below, not EXECUTE
    from django.db.models.functions import Collate
    from django.utils import translation

    from crm.l10n import name_collation

    def by_name(key, *, user):
        return Notification.objects.filter(user_id=user).order_by(Collate("text", name_collation()))

    ann, _bob, _now = people
    compiled = CompiledQuery(by_name, user=int)
    with translation.override("en"):
        compiled.fetch(user=ann.pk)
    with translation.override("ru"), CaptureQueriesContext(connection) as queries:
        compiled.fetch(user=ann.pk)
    assert name_collation("ru") in queries[0]["sql"] and name_collation("ru") != name_collation("en")


def test_values_rows_and_unions_come_back_as_from_the_queryset(people):
    ann, bob, _now = people

    def texts(key, *, user, other):
        mine = Notification.objects.filter(user_id=user).order_by().values_list("text", "user_id")
        theirs = Notification.objects.filter(user_id=other).order_by().values_list("text", "user_id")
        return mine.union(theirs, all=True)

    def counts(key, *, user):
        return Notification.objects.filter(user_id=user).order_by().values("user_id").annotate(n=Count("pk"))

    pairs = CompiledQuery(texts, user=int, other=int)
    assert sorted(pairs.fetch(user=ann.pk, other=bob.pk)) == sorted(texts(None, user=ann.pk, other=bob.pk))
    assert sorted(pairs.fetch(user=bob.pk, other=bob.pk)) == [("b1", bob.pk), ("b1", bob.pk)]
    assert CompiledQuery(counts, user=int).fetch(user=ann.pk) == [{"user_id": ann.pk, "n": 3}]


@pytest.mark.parametrize("prepared", [False, True], ids=["sql", "prepared"])
def test_an_id_array_is_one_parameter_whatever_its_length(people, prepared, settings, monkeypatch):
    """``IdArray`` values go whole as one ``bigint[]`` parameter (``any_of``): one shape for
    every length, the empty array included, as SQL or as a prepared statement."""
    from crm.compiled import IdArray, any_of

    settings.DATABASE_PREPARED_STATEMENTS = prepared
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60 if prepared else 0)

    ann, bob, _now = people
    carl = UserFactory(username="carl")
    Notification.objects.create(user=carl, text="c1")

    def of_users(key, *, users):
        return Notification.objects.filter(any_of("user_id", users)).order_by("text").values_list("text", flat=True)

    compiled = CompiledQuery(of_users, users=IdArray)
    assert compiled.fetch(users=[ann.pk]) == ["a1", "a2", "a3"]
    assert compiled.fetch(users=[bob.pk, carl.pk]) == ["b1", "c1"]
    assert compiled.fetch(users=[carl.pk, ann.pk, bob.pk]) == ["a1", "a2", "a3", "b1", "c1"]
    with CaptureQueriesContext(connection) as queries:
        assert compiled.fetch(users=[]) == []
    assert queries[-1]["sql"].startswith("EXECUTE") is prepared
    assert len(compiled._compiled) == 1
    assert list(of_users(None, users=[bob.pk, carl.pk])) == ["b1", "c1"]
