import re

import pytest
from django.conf import settings

MIDDLEWARE = ["bench.middleware.TimingMiddleware", *settings.MIDDLEWARE]


@pytest.fixture
def timed(settings):
    settings.MIDDLEWARE = MIDDLEWARE


def test_it_reports_server_time_and_every_query_of_the_request(timed, owner_client, django_assert_max_num_queries):
    with django_assert_max_num_queries(50) as captured:
        response = owner_client.get("/notifications/")

    assert response.status_code == 200
    assert re.fullmatch(r"app;dur=\d+\.\d\d, db;dur=\d+\.\d\d, cpu;dur=\d+\.\d\d", response["Server-Timing"])
    assert int(response["X-Query-Count"]) == len(captured.captured_queries)


def test_anonymous_requests_are_timed_too(timed, client):
    response = client.get("/accounts/login/")

    assert response.status_code == 200
    assert response["X-Query-Count"] == "0"


def test_the_headers_are_off_unless_enabled(owner_client):
    response = owner_client.get("/notifications/")

    assert "X-Query-Count" not in response
    assert "Server-Timing" not in response


def test_a_statements_one_time_prepare_is_not_counted_as_a_query_of_the_page(timed, owner_client, monkeypatch):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    monkeypatch.setattr(settings, "DATABASE_PREPARED_STATEMENTS", True)
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")  # nothing prepared yet on this connection (other tests prepare)
    monkeypatch.setattr(connection, "_crm_prepared", None, raising=False)
    for visit in ("first", "again"):
        with CaptureQueriesContext(connection) as captured:
            response = owner_client.get("/notifications/")
        sent = [query["sql"] for query in captured.captured_queries]
        prepares = [sql for sql in sent if sql.startswith("PREPARE ")]
        assert bool(prepares) == (visit == "first")  # the request user's query, once per connection
        assert any(sql.startswith("EXECUTE ") for sql in sent)
        assert int(response["X-Query-Count"]) == len(sent) - len(prepares)
