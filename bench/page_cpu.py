"""CPU per request of benchmark pages, measured in-process: steadier than the served benchmark.

``bench/run.py`` serves the pages with gunicorn and times them from a client; on a shared
two-core machine its p50s move by 10–20 % from run to run (see the host reference it prints).
This renders each page ``--runs`` times through ``django.test.Client`` as the benchmark's
rep, manager and admin, with DEBUG off, and prints the median and the minimum CPU time of this
process per request (``time.process_time``: the ORM, the templates and the views; PostgreSQL's
own work is left out). Two checkouts measured one after the other on the same database
compare code, not hosts::

    DATABASE_URL=postgres://…/crm_bench .venv/bin/python bench/page_cpu.py "company 360" kanban [--runs 60]

Page names are those of ``bench/pages.py``, the REST API's included ("API contact list": read
with a bearer token, created for the measurement and deleted after it). It only reads (a session
row is written for each sign-in).

``--instructions`` counts the machine instructions per request instead (valgrind's callgrind,
instrumenting only the measured requests): about a minute for three personas of one page, but the
same code gives the same count whatever else the host is doing, where CPU time on a shared
machine moves by up to 2× within minutes. It counts this process only (Python, the ORM, the
templates, psycopg2), not PostgreSQL's work.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run import _setup_django, server_env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pages", nargs="+", help="page names from bench/pages.py")
    parser.add_argument("--runs", type=int, default=60, help="requests per page and persona (after 5 warm-ups)")
    parser.add_argument(
        "--instructions", action="store_true", help="count instructions per request under callgrind (valgrind)"
    )
    parser.add_argument("--inside-callgrind", action="store_true", help=argparse.SUPPRESS)  # --instructions' child
    args = parser.parse_args(argv)
    if args.instructions:
        return _under_callgrind(args)

    # The served settings (DEBUG off: no template debug data, Jinja2 templates not re-stat'ed).
    os.environ.update(server_env(0))
    _setup_django()
    from django.core.management import call_command

    if not args.inside_callgrind:  # collected before, outside callgrind (slow under it)
        call_command("collectstatic", interactive=False, verbosity=0)  # DEBUG off serves the manifest's names

    from bench.dataset import ADMIN_USERNAME, MANAGER_USERNAME, REP_USERNAME
    from bench.pages import API_PAGES, PAGES

    pages = {page.name: page for page in [*PAGES, *API_PAGES]}
    unknown = [name for name in args.pages if name not in pages]
    if unknown:
        print(f"Unknown page(s) {', '.join(map(repr, unknown))}; the pages are: {', '.join(pages)}")
        return 2
    personas = (("rep", REP_USERNAME), ("manager", MANAGER_USERNAME), ("admin", ADMIN_USERNAME))
    if args.inside_callgrind:
        return _count_instructions(args, pages, personas)
    print(f"{'page':40} " + " | ".join(f"{persona:>7} median (min) ms" for persona, _name in personas))
    for name in args.pages:
        cells = []
        for _persona, username in personas:
            with _warm_client(pages[name], username) as (client, url):
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


@contextlib.contextmanager
def _warm_client(page: Any, username: str) -> Iterator[tuple[Any, str]]:
    """A test client signed in as ``username`` (an API page: with a bearer token, deleted on
    leaving) and ``page``'s URL for them, after 5 warm-up requests."""
    from django.test import Client

    from bench.api_bench import _token
    from bench.pages import API_PAGES
    from bench.run import pick_subjects
    from crm.models import User

    url = page.url(pick_subjects(username))
    token = None
    if page in API_PAGES:
        token, secret = _token(username)
        client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {secret}")
    else:
        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(User.objects.get(username=username))
    try:
        for _ in range(5):
            client.get(url)
        yield client, url
    finally:
        if token is not None:
            token.delete()


def _under_callgrind(args: argparse.Namespace) -> int:
    """Runs this script again under callgrind (instrumentation off until the measured requests)
    and prints the instructions per request of each page and persona from its dumps."""
    if not shutil.which("valgrind") or not shutil.which("callgrind_control"):
        print("--instructions needs valgrind (Debian: apt-get install valgrind)")
        return 2
    # Collected here: under callgrind, collectstatic alone would take minutes.
    root = Path(__file__).resolve().parent.parent
    collect = [sys.executable, "manage.py", "collectstatic", "--no-input", "-v", "0"]
    subprocess.run(collect, env={**os.environ, **server_env(0)}, cwd=root, check=True)
    with tempfile.TemporaryDirectory(prefix="page-instructions-") as tmp:
        out = Path(tmp) / "callgrind.out"
        env = {**os.environ, "PYTHONHASHSEED": "0"}  # the same dict layouts on every run
        command = [
            "valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
            sys.executable, str(Path(__file__).resolve()), *args.pages, "--runs", str(args.runs), "--inside-callgrind",
        ]  # fmt: skip
        child = subprocess.run(command, env=env, stderr=subprocess.DEVNULL, check=False)
        if child.returncode:
            return child.returncode
        # One dump per page and persona, in order (``_count_instructions``), after the start-up's.
        dumps = sorted(Path(tmp).glob("callgrind.out.*"), key=lambda path: int(path.suffix[1:]))
        totals = [_totals(path) for path in dumps[1:]]
    personas = ("rep", "manager", "admin")
    print(f"{'page':40} " + " | ".join(f"{persona:>9} Minstr/request" for persona in personas))
    for index, name in enumerate(args.pages):
        cells = totals[index * len(personas) : (index + 1) * len(personas)]
        print(f"{name:40} " + " | ".join(f"{cell / args.runs / 1e6:24.2f}" for cell in cells))
    return 0


def _totals(dump: Path) -> int:
    for line in dump.read_text().splitlines():
        if line.startswith("totals:"):
            return int(line.split()[1])
    raise ValueError(f"{dump}: no totals")


def _count_instructions(args: argparse.Namespace, pages: dict, personas: tuple) -> int:
    """Inside callgrind: per page and persona, warm-ups, then ``--runs`` requests with the
    instrumentation on, then a dump (``callgrind_control``: its counts since the last dump)."""

    def control(*options: str) -> None:
        subprocess.run(["callgrind_control", *options, str(os.getpid())], check=True, stdout=subprocess.DEVNULL)

    control("--dump=start-up")
    for name in args.pages:
        for _persona, username in personas:
            with _warm_client(pages[name], username) as (client, url):
                control("--instr=on")
                for _ in range(args.runs):
                    response = client.get(url)
                    if response.status_code != 200:
                        print(f"{name}: GET {url} answered {response.status_code}")
                        return 1
                control("--instr=off")
            control(f"--dump={name} {username}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
