"""Compiled SQL as server-side prepared statements (crm/prepared.py), on connections that
outlive a request."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crm.backends import _request_user_statement
from crm.compiled import CompiledQuery
from crm.prepared import Statement, Variable
from crm.tests.test_compiled import unread_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def persistent(settings, monkeypatch):
    """Prepared statements on, as under gunicorn (a connection kept across requests)."""
    settings.DATABASE_PREPARED_STATEMENTS = True
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)


def statements(queries) -> list[str]:
    """The commands sent, without the savepoint a test's transaction puts around a PREPARE."""
    commands = [query["sql"].split(" ")[0] for query in queries]
    return [command for command in commands if command not in ("SAVEPOINT", "RELEASE")]


def prepared_names() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_prepared_statements")
        return {name for (name,) in cursor.fetchall()}


def test_a_compiled_query_is_prepared_once_then_executed_with_each_calls_values(persistent, people):
    ann, bob, now = people
    compiled = CompiledQuery(unread_of, user=int, before=type(now))
    with CaptureQueriesContext(connection) as first:
        got = compiled.fetch("unread", user=ann.pk, before=now)
    assert statements(first) == ["PREPARE", "EXECUTE"]
    statement = compiled._compiled[next(iter(compiled._compiled))].statement
    assert statement.name in prepared_names()
    assert [n.text for n in got] == ["a1", "a2", "a3"] and got[0].user.username == "ann"
    for person, before in ((bob, now), (ann, now - timedelta(seconds=90)), (ann, now)):
        with CaptureQueriesContext(connection) as later:
            got = compiled.fetch("unread", user=person.pk, before=before)
        assert len(later) == 1 and later[0]["sql"].startswith(f"EXECUTE {statement.name} (")
        expected = list(unread_of("unread", user=person.pk, before=before))
        assert [(n.pk, n.text, n.n_unread) for n in got] == [(n.pk, n.text, n.n_unread) for n in expected]
    assert compiled.count("unread", user=ann.pk, before=now) == 3
    assert compiled.count("unread", user=bob.pk, before=now) == 1


def test_without_a_persistent_connection_the_sql_is_sent_as_it_is(settings, monkeypatch, people):
    settings.DATABASE_PREPARED_STATEMENTS = True
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 0)  # a connection per request
    ann, _bob, now = people
    compiled = CompiledQuery(unread_of, user=int, before=type(now))
    with CaptureQueriesContext(connection) as queries:
        assert len(compiled.fetch("unread", user=ann.pk, before=now)) == 3
    assert len(queries) == 1 and queries[0]["sql"].startswith("SELECT")


def test_the_setting_turns_them_off(persistent, settings, people):
    settings.DATABASE_PREPARED_STATEMENTS = False  # behind PgBouncer in transaction mode
    ann, _bob, now = people
    with CaptureQueriesContext(connection) as queries:
        CompiledQuery(unread_of, user=int, before=type(now)).fetch("unread", user=ann.pk, before=now)
    assert queries[0]["sql"].startswith("SELECT")


def test_a_statement_postgresql_refuses_runs_as_plain_sql_and_keeps_the_transaction(persistent, caplog):
    statement = Statement("SELECT %s + %s", [Variable("no_such_type"), 1])
    with caplog.at_level(logging.WARNING, logger="crm.prepared"):
        sql, params = statement.sql_with_params(connection, [41])
    assert (sql, params) == ("SELECT %s + %s", [41, 1]) and statement.broken
    assert "did not prepare" in caplog.text
    with connection.cursor() as cursor:  # the transaction is still usable
        cursor.execute(sql, params)
        assert cursor.fetchone() == (42,)
    assert statement.sql_with_params(connection, [1]) == ("SELECT %s + %s", [1, 1])


@pytest.mark.django_db(transaction=True)
def test_a_new_connection_prepares_again(persistent, people):
    ann, bob, now = people
    compiled = CompiledQuery(unread_of, user=int, before=type(now))
    assert len(compiled.fetch("unread", user=ann.pk, before=now)) == 3
    connection.close()  # a reconnect: PostgreSQL forgot the statements of the old session
    with CaptureQueriesContext(connection) as queries:
        assert [n.text for n in compiled.fetch("unread", user=bob.pk, before=now)] == ["b1"]
    assert statements(queries) == ["PREPARE", "EXECUTE"]


def test_the_request_user_is_loaded_by_its_prepared_statement(persistent, owner_client, owner):
    response = owner_client.get(reverse("home"))
    assert response.status_code == 200 and response.context["user"] == owner
    assert _request_user_statement().name in prepared_names()
    response = owner_client.get(reverse("home"))
    assert response.status_code == 200 and response.context["user"].visible_owner_ids == owner.visible_owner_ids


def test_a_statement_the_session_already_has_is_used_as_prepared(persistent, people):
    """A statement prepared before this process's record of the connection began (the record
    reset) is not refused as a duplicate: it is executed."""
    ann, _bob, now = people
    compiled = CompiledQuery(unread_of, user=int, before=type(now))
    compiled.fetch("unread", user=ann.pk, before=now)
    connection._crm_prepared = None  # the record is gone; PostgreSQL still has the statement
    with CaptureQueriesContext(connection) as queries:
        assert len(compiled.fetch("unread", user=ann.pk, before=now)) == 3
    statement = compiled._compiled[next(iter(compiled._compiled))].statement
    assert not statement.broken and queries[-1]["sql"].startswith(f"EXECUTE {statement.name} (")
    with CaptureQueriesContext(connection) as queries:
        compiled.fetch("unread", user=ann.pk, before=now)
    assert statements(queries) == ["EXECUTE"]
