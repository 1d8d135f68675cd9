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
