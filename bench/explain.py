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
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run import _setup_django


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
    args = parser.parse_args(argv)

    _setup_django()
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
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(*restrictions)
    with connection.cursor() as cursor:
        for ms, sql in slowest:
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
            plan = "\n".join(row[0] for row in cursor.fetchall())
            print(f"\n## {ms:.1f} ms\n\n```sql\n{sql}\n```\n\n```\n{plan}\n```")
    return 0


if __name__ == "__main__":
    sys.exit(main())
