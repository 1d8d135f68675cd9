"""Server-side timing headers for the benchmark, enabled only by ``CRM_BENCH_HEADERS=1``.

Outermost in the middleware stack, so the time and the query count cover every middleware
(sessions, auth, messages) as well as the view and template rendering.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.db import connection
from django.http import HttpRequest, HttpResponse


class _QueryCounter:
    """The queries a request sends and their time. A ``PREPARE`` (crm/prepared.py: once per
    statement and database connection, then ``EXECUTE``d by every request) is timed but not
    counted: it is the connection's setup, as Django's own ``SET TIME ZONE`` on connecting."""

    def __init__(self) -> None:
        self.count = 0
        self.seconds = 0.0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            if not sql.startswith("PREPARE "):
                self.count += 1
            self.seconds += time.perf_counter() - started


class TimingMiddleware:
    """Adds ``Server-Timing: app;dur=<ms>, db;dur=<ms>, cpu;dur=<ms>`` and ``X-Query-Count: <n>``.

    ``cpu`` is the worker's own CPU time for the request: unlike the wall time it hardly moves
    when other processes share the cores, and it is what caps the requests per second."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        counter = _QueryCounter()
        started = time.perf_counter()
        cpu_started = time.process_time()
        with connection.execute_wrapper(counter):
            response = self.get_response(request)
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        response["Server-Timing"] = (
            f"app;dur={elapsed * 1000:.2f}, db;dur={counter.seconds * 1000:.2f}, cpu;dur={cpu * 1000:.2f}"
        )
        response["X-Query-Count"] = str(counter.count)
        return response
