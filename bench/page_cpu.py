"""CPU per request of benchmark pages, measured in-process: steadier than the served benchmark.

``bench/run.py`` serves the pages with gunicorn and times them from a client; on a shared
two-core machine its p50s move by 10–20 % from run to run (see the host reference it prints).
This renders each page ``--runs`` times through ``django.test.Client`` as the benchmark's
rep, manager and admin, with DEBUG off, and prints the median and the minimum CPU time of this
process per request (``time.process_time``: the ORM, the templates and the views; PostgreSQL's
own work is left out). Two checkouts measured one after the other on the same database
compare code, not hosts::

    DATABASE_URL=postgres://…/crm_bench .venv/bin/python bench/page_cpu.py "company 360" kanban [--runs 60]

Page names are those of ``bench/pages.py``. It only reads (a session row is written for each
sign-in).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run import _setup_django, server_env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pages", nargs="+", help="page names from bench/pages.py")
    parser.add_argument("--runs", type=int, default=60, help="requests per page and persona (after 5 warm-ups)")
    args = parser.parse_args(argv)

    # The served settings (DEBUG off: no template debug data, Jinja2 templates not re-stat'ed).
    os.environ.update(server_env(0))
    _setup_django()
    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=0)  # DEBUG off serves the manifest's names
    from django.test import Client

    from bench.dataset import ADMIN_USERNAME, MANAGER_USERNAME, REP_USERNAME
    from bench.pages import PAGES
    from bench.run import pick_subjects
    from crm.models import User

    pages = {page.name: page for page in PAGES}
    unknown = [name for name in args.pages if name not in pages]
    if unknown:
        print(f"Unknown page(s) {', '.join(map(repr, unknown))}; the pages are: {', '.join(pages)}")
        return 2
    personas = (("rep", REP_USERNAME), ("manager", MANAGER_USERNAME), ("admin", ADMIN_USERNAME))
    print(f"{'page':40} " + " | ".join(f"{persona:>7} median (min) ms" for persona, _name in personas))
    for name in args.pages:
        cells = []
        for _persona, username in personas:
            url = pages[name].url(pick_subjects(username))
            client = Client(HTTP_HOST="127.0.0.1")
            client.force_login(User.objects.get(username=username))
            for _ in range(5):
                client.get(url)
            times = []
            for _ in range(args.runs):
                started = time.process_time()
                response = client.get(url)
                times.append(time.process_time() - started)
                if response.status_code != 200:
                    print(f"{name}: GET {url} answered {response.status_code}")
                    return 1
            cells.append(f"{statistics.median(times) * 1000:12.1f} ({min(times) * 1000:5.1f})")
        print(f"{name:40} " + " | ".join(cells), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
