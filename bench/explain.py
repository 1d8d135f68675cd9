"""Why is a page slow? Render it once in-process and EXPLAIN its slowest queries.

    .venv/bin/python bench/explain.py "contact search, common term" --persona admin [--top 3]

Uses the page list and the subjects of ``bench/run.py`` against the same database, so the
plans are those of the benchmark's dataset. Prints the time spent in SQL versus the rest of
the request (templates, forms, Python) and ``EXPLAIN (ANALYZE, BUFFERS)`` of the slowest
SELECTs.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run import _setup_django, server_env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("page", help="a page name from bench/pages.py")
    parser.add_argument("--persona", choices=["rep", "manager", "admin"], default="rep")
    parser.add_argument("--top", type=int, default=3, help="how many of the slowest queries to EXPLAIN")
    parser.add_argument(
        "--profile", type=int, default=0, metavar="N", help="also profile 20 requests (cProfile): the N costliest calls"
    )
    parser.add_argument(
        "--match", default="", metavar="REGEX", help="with --profile: only calls whose file:line(function) matches"
    )
    parser.add_argument(
        "--templates",
        action="store_true",
        help="also time 20 requests' templates: each one's own time and with what it includes",
    )
    args = parser.parse_args(argv)

    _setup_django()
    from django.conf import settings
    from django.core.management import call_command

    if not settings.DEBUG:  # run as a script (below)
        call_command("collectstatic", interactive=False, verbosity=0)  # DEBUG off serves the manifest's names
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from bench.dataset import ADMIN_USERNAME, MANAGER_USERNAME, REP_USERNAME
    from bench.pages import PAGES
    from bench.run import pick_subjects
    from crm.models import User

    pages = {page.name: page for page in PAGES}
    if args.page not in pages:
        print(f"Unknown page {args.page!r}; the pages are: {', '.join(pages)}")
        return 2
    username = {"rep": REP_USERNAME, "manager": MANAGER_USERNAME, "admin": ADMIN_USERNAME}[args.persona]
    url = pages[args.page].url(pick_subjects(username))
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(User.objects.get(username=username))
    client.get(url)  # warm caches, as the benchmark does
    with CaptureQueriesContext(connection) as captured:
        started = time.perf_counter()
        response = client.get(url)
        total = (time.perf_counter() - started) * 1000
    queries = [(float(q["time"]) * 1000, q["sql"]) for q in captured.captured_queries]
    in_sql = sum(ms for ms, _sql in queries)
    print(f"# {args.page} as {args.persona}: GET {url} → HTTP {response.status_code}")
    print(
        f"{total:.0f} ms in the request: {in_sql:.0f} ms in {len(queries)} queries, {total - in_sql:.0f} ms elsewhere\n"
    )
    for ms, sql in queries:
        print(f"- {ms:7.1f} ms  {sql[:160]}")
    reads = [q for q in queries if q[1].lstrip().upper().startswith(("SELECT", "WITH"))]
    slowest = sorted(reads, reverse=True)[: args.top]
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(20):
            client.get(url)
        profiler.disable()
        restrictions = [args.match, args.profile] if args.match else [args.profile]
        pstats.Stats(profiler).sort_stats(os.environ.get("EXPLAIN_SORT", "cumulative")).print_stats(*restrictions)
    if args.templates:
        _time_templates(lambda: client.get(url), requests=20)
    with connection.cursor() as cursor:
        for ms, sql in slowest:
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
            plan = "\n".join(row[0] for row in cursor.fetchall())
            print(f"\n## {ms:.1f} ms\n\n```sql\n{sql}\n```\n\n```\n{plan}\n```")
    return 0


def _time_templates(get, *, requests: int) -> None:
    """Wall time per template (Django's and Jinja2's) over ``requests`` requests: "own" leaves
    out the templates it renders (includes, inclusion tags), but counts the rest of its tags'
    work — a tag's queries count in the template that holds the tag (a page's blocks: in the
    template it extends)."""
    from django.template import base
    from django.template.backends import jinja2 as jinja_backend

    own: dict[str, float] = {}
    inclusive: dict[str, float] = {}
    calls: dict[str, int] = {}
    stack: list[list[float]] = []  # per open template: [time spent in templates it rendered]

    def timed(name: str, render, *a, **kw):
        stack.append([0.0])
        started = time.perf_counter()
        try:
            return render(*a, **kw)
        finally:
            spent = time.perf_counter() - started
            nested = stack.pop()[0]
            if stack:
                stack[-1][0] += spent
            own[name] = own.get(name, 0.0) + spent - nested
            inclusive[name] = inclusive.get(name, 0.0) + spent
            calls[name] = calls.get(name, 0) + 1

    django_render, jinja_render = base.Template._render, jinja_backend.Template.render
    base.Template._render = lambda self, context: timed(self.origin.template_name or "?", django_render, self, context)
    jinja_backend.Template.render = lambda self, *a, **kw: timed(
        f"{self.template.name} (jinja2)", jinja_render, self, *a, **kw
    )
    try:
        started = time.perf_counter()
        for _ in range(requests):
            get()
        total = (time.perf_counter() - started) * 1000 / requests
    finally:
        base.Template._render, jinja_backend.Template.render = django_render, jinja_render
    print(f"\n{total:.1f} ms a request; per request, the templates by their own time:\n")
    print(f"{'own ms':>8} {'with includes':>14} {'renders':>8}  template")
    for name in sorted(own, key=own.get, reverse=True):
        print(
            f"{own[name] * 1000 / requests:8.2f} {inclusive[name] * 1000 / requests:14.2f}"
            f" {calls[name] / requests:8.1f}  {name}"
        )


if __name__ == "__main__":
    # The served settings, as bench/page_cpu.py: DEBUG off, so a profile shows no template
    # debug data and no Jinja2 re-stat of every template (56 `stat` calls a deal list with
    # DEBUG on) — but the queries' SQL as text, which EXPLAIN needs (the served workers prepare
    # it). Set here, not in main(): a test calls main() in its own process, whose environment
    # the test's other subprocesses inherit.
    os.environ.update(server_env(0))
    os.environ["DATABASE_PREPARED_STATEMENTS"] = "0"
    sys.exit(main())
