"""``make bench``: serve the CRM as in production and hold every page to its budget.

Runs gunicorn (2 workers, DEBUG off) on 127.0.0.1 against the generated dataset, signs in as
a rep, a manager and an admin, and for every page of ``bench/pages.py`` measures the server
time (``Server-Timing`` from ``bench.middleware``) and the SQL query count of each request
after a warm-up. Then times the configured management commands, the import throughput, and
the contact list's throughput under ``wrk``. Writes ``bench/results.json`` and
``bench/results.md``; exits 1 when a budget is exceeded or a page fails.

    .venv/bin/python bench/run.py [--requests 30] [--require-all] [--no-throughput]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import http.client
import json
import math
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
PYTHON = sys.executable
BENCH_CACHE_PREFIX = "crm-bench"
MIN_SAMPLES = 5


def _setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
    import django

    django.setup()


# --- HTTP client ------------------------------------------------------------------------------


class Session:
    """A signed-in browser, reduced to what the benchmark needs: cookies and timings."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: str | None = None) -> http.client.HTTPResponse:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=60)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        response.body = response.read()  # type: ignore[attr-defined]
        conn.close()
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        return response

    def login(self, username: str, password: str) -> None:
        page = self.request("GET", "/accounts/login/")
        match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.body)  # type: ignore[attr-defined]
        if not match:
            raise RuntimeError("The login page has no CSRF token")
        form = {"username": username, "password": password, "csrfmiddlewaretoken": match.group(1).decode()}
        response = self.request("POST", "/accounts/login/", urlencode(form))
        if response.status != 302 or "sessionid" not in self.cookies:
            raise RuntimeError(f"Cannot sign in as {username} (HTTP {response.status}); was the dataset generated?")


# --- measurements -----------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile: the smallest value at least ``share`` of the values do not exceed."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


@dataclass
class PageResult:
    page: str
    persona: str
    url: str = ""
    status: str = "ok"  # ok | over budget | error | not built yet
    p50_ms: float | None = None
    p95_ms: float | None = None
    db_p50_ms: float | None = None
    cpu_p50_ms: float | None = None
    client_p50_ms: float | None = None
    queries: int | None = None
    samples: int = 0
    budget_p50_ms: float | None = None
    budget_p95_ms: float | None = None
    budget_queries: int | None = None
    problems: list[str] = field(default_factory=list)


def measure_page(session: Session, page: Any, subjects: Any, persona: str, args: argparse.Namespace) -> PageResult:
    from django.urls import NoReverseMatch

    budget = page.budget
    result = PageResult(
        page.name,
        persona,
        budget_p50_ms=budget.p50_ms,
        budget_p95_ms=budget.p95_ms,
        budget_queries=budget.max_queries,
    )
    try:
        result.url = page.url(subjects)
    except NoReverseMatch:
        result.status = "not built yet"
        result.problems.append(f"no URL named {page.route}")
        return result
    server, database, cpu, client, queries = [], [], [], [], []
    # A page far over budget need not be asked 30 times to prove it: past the time limit,
    # MIN_SAMPLES measured requests are enough.
    deadline = time.monotonic() + args.page_seconds
    for attempt in range(args.warmup + args.requests):
        if time.monotonic() > deadline and len(server) >= MIN_SAMPLES:
            break
        started = time.perf_counter()
        response = session.request("GET", result.url)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status != 200:
            result.status = "error"
            result.problems.append(f"HTTP {response.status}")
            return result
        timing = dict(re.findall(r"(\w+);dur=([\d.]+)", response.headers.get("Server-Timing", "")))
        if "app" not in timing:
            raise RuntimeError("No Server-Timing header: is CRM_BENCH_HEADERS=1 reaching gunicorn?")
        if attempt >= args.warmup:
            server.append(float(timing["app"]))
            database.append(float(timing.get("db", 0)))
            cpu.append(float(timing.get("cpu", 0)))
            client.append(elapsed)
            queries.append(int(response.headers["X-Query-Count"]))
    result.samples = len(server)
    result.p50_ms = round(statistics.median(server), 1)
    result.p95_ms = round(percentile(server, 0.95), 1)
    result.db_p50_ms = round(statistics.median(database), 1)
    result.cpu_p50_ms = round(statistics.median(cpu), 1)
    result.client_p50_ms = round(statistics.median(client), 1)
    result.queries = max(queries)
    if result.p50_ms > budget.p50_ms:
        result.problems.append(f"p50 {result.p50_ms} ms > {budget.p50_ms} ms")
    if budget.p95_ms is not None and result.p95_ms > budget.p95_ms:
        result.problems.append(f"p95 {result.p95_ms} ms > {budget.p95_ms} ms")
    if result.queries > budget.max_queries:
        result.problems.append(f"{result.queries} queries > {budget.max_queries}")
    if result.problems:
        result.status = "over budget"
    return result


def print_result(result: PageResult) -> None:
    detail = (
        f"p50 {fmt(result.p50_ms)} ms, p95 {fmt(result.p95_ms)} ms, CPU {fmt(result.cpu_p50_ms)} ms, "
        f"{fmt(result.queries)} queries"
    )
    if result.status == "not built yet":
        detail = ""
    print(f"  {result.page:<30} {result.persona:<8} {result.status:<14} {detail}  {'; '.join(result.problems)}")


def run_command(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([PYTHON, "manage.py", *argv], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def measure_commands(env: dict[str, str]) -> list[dict[str, Any]]:
    from django.core.management import get_commands

    from bench.pages import COMMANDS

    results = []
    for label, argv in COMMANDS:
        if argv[0] not in get_commands():
            results.append({"name": label, "status": "not built yet", "problem": f"no command {argv[0]}"})
            continue
        results.append({"name": label, "status": "ok", "seconds": round(run_command(argv, env), 2)})
    return results


def measure_import(env: dict[str, str], owner: str) -> dict[str, Any]:
    from django.core.management import get_commands

    from bench.import_bench import remove_imported
    from bench.pages import IMPORT
    from contacts.models import Contact, ImportJob

    if IMPORT.command not in get_commands():
        return {"name": "contact import", "status": "not built yet", "problem": f"no command {IMPORT.command}"}
    domain = "import.bench.example"
    with tempfile.NamedTemporaryFile("w", suffix=".csv", newline="", delete=False) as handle:
        writer = csv.writer(handle)
        writer.writerow(["first_name", "last_name", "email", "phone", "company"])
        for i in range(IMPORT.rows):
            writer.writerow([f"Imported{i}", "Benchmark", f"person{i}@{domain}", f"+1415555{i % 10000:04d}", ""])
    last_job = ImportJob.objects.order_by("-id").values_list("id", flat=True).first() or 0
    try:
        seconds = run_command(IMPORT.argv(handle.name, owner), env)
        imported = Contact.objects.filter(email__endswith=f"@{domain}").count()
    finally:
        Path(handle.name).unlink()
        # Leave the dataset as it was, so runs stay comparable.
        for job_id in ImportJob.objects.filter(id__gt=last_job).values_list("id", flat=True):
            remove_imported(job_id, domain)
    rate = imported / seconds
    result = {
        "name": "contact import",
        "status": "ok" if imported == IMPORT.rows else "error",
        "rows": imported,
        "seconds": round(seconds, 2),
        "rows_per_second": round(rate, 1),
        "min_rows_per_second": IMPORT.min_rows_per_second,
    }
    if result["status"] == "ok" and rate < IMPORT.min_rows_per_second:
        result.update(status="over budget", problem=f"{rate:.0f} rows/s < {IMPORT.min_rows_per_second:.0f}")
    return result


def measure_throughput(session: Session, url: str, args: argparse.Namespace) -> dict[str, Any]:
    from bench.pages import THROUGHPUT_MIN_RPS

    result: dict[str, Any] = {"url": url, "min_rps": THROUGHPUT_MIN_RPS, "workers": args.workers}
    wrk = shutil.which("wrk")
    if not wrk:
        return {**result, "status": "not measured", "problem": "wrk is not installed (apt-get install wrk)"}
    cookie = "; ".join(f"{k}={v}" for k, v in session.cookies.items())
    command = [
        wrk,
        f"-t{args.wrk_threads}",
        f"-c{args.wrk_connections}",
        f"-d{args.duration}s",
        "--latency",
        "-H",
        f"Cookie: {cookie}",
        f"http://{HOST}:{args.port}{url}",
    ]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    result.update(
        status="ok",
        requests_per_second=round(rps, 1),
        seconds=args.duration,
        connections=args.wrk_connections,
        latency_p50=re.search(r"50%\s+(\S+)", output).group(1),  # type: ignore[union-attr]
        latency_p99=re.search(r"99%\s+(\S+)", output).group(1),  # type: ignore[union-attr]
        non_2xx=int(errors.group(1)) if errors else 0,
    )
    if result["non_2xx"]:
        result.update(status="error", problem=f"{result['non_2xx']} responses were not 2xx/3xx")
    elif rps < THROUGHPUT_MIN_RPS:
        result.update(status="over budget", problem=f"{rps:.0f} requests/s < {THROUGHPUT_MIN_RPS:.0f}")
    return result


# --- the dataset and the people ---------------------------------------------------------------


def dataset_counts() -> dict[str, int]:
    from contacts.models import Company, Contact
    from crm.models import User
    from deals.models import Deal, StageChange

    return {
        "users": User.objects.count(),
        "companies": Company.objects.count(),
        "contacts": Contact.objects.count(),
        "deals": Deal.objects.count(),
        "stage changes": StageChange.objects.count(),
    }


def ensure_dataset(scale: str, env: dict[str, str]) -> None:
    """Generate the preset's dataset unless the database already holds exactly its sizes."""
    from bench.dataset import PRESETS

    counts = dataset_counts()
    sizes = PRESETS[scale]
    if (counts["companies"], counts["contacts"], counts["deals"]) == (sizes.companies, sizes.contacts, sizes.deals):
        return
    print(f"The database does not hold the {scale} dataset yet: generating it (nice'd; minutes at large).")
    subprocess.run(
        ["nice", "-n", "10", PYTHON, "manage.py", "generate_dataset", "--scale", scale, "--reset"],
        cwd=ROOT,
        env={**env, "DEBUG": "1"},
        check=True,
    )


def vacuum() -> float:
    """``VACUUM (ANALYZE)`` the database before the pages are measured, as autovacuum would
    after the commands above rewrote tables (the customer value recompute updates ~50k
    companies): with the visibility map cleared, index-only scans turn into heap reads until
    a vacuum runs. Autovacuum may be off (it is on this machine's cluster) or not have come
    round yet; the benchmark measures the steady state either way."""
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE)")
    return time.perf_counter() - started


def host_reference(repeat: int = 5) -> dict[str, float]:
    """The speed of the host, to compare runs by: the same commit measured 2× apart on two
    machines of the same kind (bench/FINDINGS.md §7.6). Two fixed workloads, best of
    ``repeat``: a pure-Python loop of dict and string work (the kind a page's rendering does)
    and a CPU-bound PostgreSQL query. Lower is faster."""
    from django.db import connection

    def python_loop() -> None:
        names: dict[str, int] = {}
        for i in range(200_000):
            names[f"row-{i % 1000}"] = i

    def postgres_query() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM generate_series(1, 1000000)")
            cursor.fetchone()

    def best(work: Callable[[], None]) -> float:
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            work()
            times.append((time.perf_counter() - started) * 1000)
        return round(min(times), 1)

    return {"python_ms": best(python_loop), "postgres_ms": best(postgres_query)}


def forget_cached_pages() -> None:
    """Start from an empty benchmark cache: cached values of an earlier dataset would lie."""
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.CACHE_URL)
    keys = list(client.scan_iter(f"{BENCH_CACHE_PREFIX}:*"))
    if keys:
        client.delete(*keys)


def pick_subjects(username: str) -> Any:
    """The heaviest records the persona may open: worst cases, not typical ones."""
    from django.db.models import Count

    from bench.pages import Subjects
    from bench.pools import COMMON_LAST_NAME, RARE_LAST_NAME
    from campaigns.models import Campaign
    from contacts.models import Company, Contact
    from crm.models import User
    from deals.models import Deal, Pipeline, StageChange
    from service.models import ACTIVE_STATUSES, Case

    user = User.objects.get(username=username)
    company = Company.objects.visible_to(user).annotate(n=Count("contacts")).order_by("-n", "pk").first()
    contacts = company.contacts.visible_to(user) if company else Contact.objects.visible_to(user)
    contact = contacts.annotate(n=Count("deals")).order_by("-n", "pk").first()
    deal = (
        StageChange.objects.filter(deal__in=Deal.objects.visible_to(user))
        .values("deal")
        .annotate(n=Count("id"))
        .order_by("-n", "deal")
        .first()
    )
    pipeline = Pipeline.objects.filter(is_default=True).first() or Pipeline.objects.first()
    case = Case.objects.visible_to(user).filter(status__in=ACTIVE_STATUSES).order_by("-created_at", "-pk").first()
    campaign = Campaign.objects.visible_to(user).order_by("-members_count", "pk").first()
    # 0 where the dataset has nothing to show: the page answers 404 and is reported as an error.
    return Subjects(
        company_id=company.pk if company else 0,
        contact_id=contact.pk if contact else 0,
        deal_id=deal["deal"] if deal else 0,
        pipeline_id=pipeline.pk if pipeline else 0,
        common_term=COMMON_LAST_NAME.lower(),
        rare_term=RARE_LAST_NAME.lower(),
        case_id=case.pk if case else 0,
        campaign_id=campaign.pk if campaign else 0,
    )


# --- the server ---------------------------------------------------------------------------------


def server_env(port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DEBUG="0",
        SECRET_KEY=env.get("BENCH_SECRET_KEY") or secrets.token_urlsafe(50),
        ALLOWED_HOSTS=HOST,
        SECURE_COOKIES="0",  # plain HTTP on loopback
        CRM_BENCH_HEADERS="1",
        CACHE_KEY_PREFIX=BENCH_CACHE_PREFIX,
        LOG_LEVEL="WARNING",
    )
    # gunicorn's sync workers serve one request at a time: a persistent connection per worker
    # is the production setting (the default 0 is for runserver, which opens a thread per request).
    env.setdefault("DATABASE_CONN_MAX_AGE", "60")
    return env


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((HOST, port)) != 0


def start_gunicorn(env: dict[str, str], args: argparse.Namespace) -> subprocess.Popen:
    if not port_is_free(args.port):
        raise SystemExit(f"Port {args.port} is in use; stop what runs there or pass --port.")
    subprocess.run([PYTHON, "manage.py", "collectstatic", "--no-input", "-v", "0"], cwd=ROOT, env=env, check=True)
    server = subprocess.Popen(
        [
            str(Path(PYTHON).with_name("gunicorn")),
            "crm.wsgi:application",
            f"--workers={args.workers}",
            f"--bind={HOST}:{args.port}",
            "--log-level=warning",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("gunicorn exited during start-up (see its output above)")
        try:
            if Session(args.port).request("GET", "/accounts/login/").status == 200:
                return server
        except OSError:
            pass
        time.sleep(0.3)
    server.terminate()
    raise SystemExit("gunicorn did not answer within 30 s")


# --- report -------------------------------------------------------------------------------------


def fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:g}"


def markdown(report: dict[str, Any]) -> str:
    counts = report["dataset"]
    lines = [
        f"Measured {report['measured_at']} at commit `{report['commit']}` on {report['cpus']} CPU cores: "
        f"gunicorn with {report['workers']} workers, DEBUG off, after VACUUM (ANALYZE), warm cache, "
        f"{report['requests']} requests per page "
        f"after {report['warmup']} warm-up requests (n: fewer when a page used up its time limit). Dataset: "
        + ", ".join(f"{n:,} {name}" for name, n in counts.items())
        + ".",
        "",
    ]
    if report.get("host"):
        lines += [
            f"Host reference (lower is faster; compare runs by it, the host's speed varies): a Python loop "
            f"{fmt(report['host']['python_ms'])} ms, a PostgreSQL query {fmt(report['host']['postgres_ms'])} ms "
            "(`bench.run.host_reference`).",
            "",
        ]
    lines += [
        "| page | persona | p50 ms | p95 ms | DB p50 ms | CPU p50 ms | queries | n "
        "| budget p50 / p95 / queries | result |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for row in report["pages"]:
        budget = f"{fmt(row['budget_p50_ms'])} / {fmt(row['budget_p95_ms'])} / {row['budget_queries']}"
        verdict = row["status"] + (f": {'; '.join(row['problems'])}" if row["problems"] else "")
        lines.append(
            f"| {row['page']} | {row['persona']} | {fmt(row['p50_ms'])} | {fmt(row['p95_ms'])} | "
            f"{fmt(row['db_p50_ms'])} | {fmt(row.get('cpu_p50_ms'))} | {fmt(row['queries'])} | "
            f"{row['samples'] or '—'} | {budget} | {verdict} |"
        )
    lines += ["", "| measurement | result |", "|---|---|"]
    tp = report["throughput"]
    if tp.get("requests_per_second") is not None:
        lines.append(
            f"| {THROUGHPUT_LABEL} | {tp['requests_per_second']:g} requests/s over {tp['seconds']} s, "
            f"{tp['connections']} connections, latency p50 {tp['latency_p50']} / p99 {tp['latency_p99']} "
            f"(budget ≥ {tp['min_rps']:g}): {tp['status']} |"
        )
    else:
        lines.append(f"| {THROUGHPUT_LABEL} | {tp['status']}: {tp.get('problem', '')} |")
    for item in [*report["commands"], report["import"]]:
        if item["status"] == "ok" and "rows_per_second" in item:
            value = f"{item['rows']:,} rows in {item['seconds']} s = {item['rows_per_second']:,} rows/s"
        elif item["status"] == "ok":
            value = f"{item['seconds']} s"
        else:
            value = f"{item['status']} ({item.get('problem', '')})"
        lines.append(f"| {item['name']} | {value} |")
    ev = report.get("event_ingest") or {"status": "not measured"}
    if ev.get("events_per_second") is not None:
        lines.append(
            f"| event ingest (API, batches of {ev['batch_size']}) | "
            f"{ev['events']:,} events in {ev['batches']} batches, "
            f"{ev['seconds']} s = {ev['events_per_second']:,} events/s, batch p50 {ev['batch_p50_ms']} ms "
            f"(budget ≥ {ev['min_events_per_second']:g}): {ev['status']} |"
        )
    else:
        lines.append(f"| event ingest | {ev['status']}: {ev.get('problem', '')} |")
    missing = sum(row["status"] == "not built yet" for row in report["pages"])
    verdict = "All measured budgets met." if report["passed"] else "Budgets NOT met."
    if missing:
        verdict += f" Not built yet: {missing} of {len(report['pages'])} pages."
    lines += ["", f"**{verdict}**", ""]
    return "\n".join(lines)


THROUGHPUT_LABEL = "contact list throughput (wrk)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--scale",
        choices=["small", "large"],
        help="generate this preset's dataset first unless the database already holds it",
    )
    parser.add_argument("--port", type=int, default=int(os.environ.get("BENCH_PORT", 8106)))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--requests", type=int, default=30, help="measured requests per page and persona")
    parser.add_argument("--warmup", type=int, default=5, help="unmeasured requests before them")
    parser.add_argument(
        "--page-seconds", type=float, default=30, help=f"time limit per page and persona (≥ {MIN_SAMPLES} samples)"
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds of wrk load")
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument("--wrk-connections", type=int, default=4)
    parser.add_argument(
        "--skip-commands",
        action="store_true",
        help="do not run the timed commands (the rollup rebuild, the import throughput)",
    )
    parser.add_argument("--no-throughput", action="store_true", help="skip the wrk load test")
    parser.add_argument("--no-events", action="store_true", help="skip the event ingest throughput")
    parser.add_argument(
        "--only", action="append", metavar="PAGE", help="measure only this page (repeatable), e.g. --only kanban"
    )
    parser.add_argument("--require-all", action="store_true", help="pages not built yet count as failures")
    parser.add_argument("--out", type=Path, default=ROOT / "bench", help="directory of results.json/.md")
    args = parser.parse_args(argv)

    _setup_django()
    from django.conf import settings

    from bench.dataset import ADMIN_USERNAME, DEFAULT_PASSWORD, MANAGER_USERNAME, REP_USERNAME
    from bench.pages import COMMANDS, PAGES, THROUGHPUT_PAGE
    from crm.models import User

    env = server_env(args.port)
    if args.scale:
        ensure_dataset(args.scale, env)
    personas = {"rep": REP_USERNAME, "manager": MANAGER_USERNAME, "admin": ADMIN_USERNAME}
    if User.objects.filter(username__in=personas.values()).count() != len(personas):
        print(f"No benchmark users in {settings.DATABASES['default']['NAME']}: run `make dataset` first.")
        return 2
    password = os.environ.get("BENCH_PASSWORD", DEFAULT_PASSWORD)
    counts = dataset_counts()
    print("Dataset: " + ", ".join(f"{n:,} {name}" for name, n in counts.items()))
    subjects = {persona: pick_subjects(username) for persona, username in personas.items()}

    if args.skip_commands:
        commands = [{"name": label, "status": "not measured", "problem": "--skip-commands"} for label, _ in COMMANDS]
    else:
        commands = measure_commands(env)
    print(f"  commands: {commands}")
    vacuum_seconds = vacuum()
    print(f"  VACUUM (ANALYZE): {vacuum_seconds:.1f} s")
    host = host_reference()
    print(f"  host reference: {host}")
    forget_cached_pages()
    server = start_gunicorn(env, args)
    try:
        sessions = {}
        for persona, username in personas.items():
            sessions[persona] = Session(args.port)
            sessions[persona].login(username, password)
        pages: list[PageResult] = []
        chosen = [page for page in PAGES if not args.only or page.name in args.only]
        api_names = {"API contact list"}
        if args.only and len(chosen) != len(set(args.only) - api_names):
            raise SystemExit(f"Unknown page in --only; the pages are: {', '.join(p.name for p in PAGES)}")
        for page in chosen:
            for persona, session in sessions.items():
                result = measure_page(session, page, subjects[persona], persona, args)
                if result.status == "not built yet":
                    result.persona = "—"
                pages.append(result)
                print_result(result)
                if result.status == "not built yet":
                    break
        # The REST API (issue #16): its contact list per persona, through a token.
        from bench.api_bench import measure_api_pages, measure_event_ingest

        for result in measure_api_pages(args.port, personas, subjects, args):
            pages.append(result)
            print_result(result)
        contact_list = next((r for r in pages if r.page == THROUGHPUT_PAGE and r.persona == "rep"), None)
        if args.no_throughput:
            throughput: dict[str, Any] = {"status": "not measured", "problem": "--no-throughput"}
        elif contact_list is None or contact_list.status == "not built yet":
            throughput = {"status": "not built yet", "problem": f"no {THROUGHPUT_PAGE} page"}
        else:
            throughput = measure_throughput(sessions["rep"], contact_list.url, args)
        print(f"  throughput: {throughput}")
        if args.no_events:
            events: dict[str, Any] = {"name": "event ingest", "status": "not measured", "problem": "--no-events"}
        else:
            events = measure_event_ingest(args.port, REP_USERNAME)
        print(f"  event ingest: {events}")
    finally:
        server.terminate()
        server.wait(timeout=30)
    if args.skip_commands:
        imported = {"name": "contact import", "status": "not measured", "problem": "--skip-commands"}
    else:
        imported = measure_import(env, REP_USERNAME)
    print(f"  import: {imported}")

    failed = [r for r in pages if r.status in ("over budget", "error")]
    missing = [r for r in pages if r.status == "not built yet"]
    extra_failures = [m for m in [throughput, imported, events, *commands] if m["status"] in ("over budget", "error")]
    if args.require_all:
        missing_extra = [m for m in [throughput, imported, events, *commands] if m["status"] != "ok"]
        extra_failures += missing_extra
    passed = not failed and not extra_failures and not (args.require_all and missing)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()
    report = {
        "measured_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit or "unknown",
        "cpus": os.cpu_count(),
        "workers": args.workers,
        "requests": args.requests,
        "warmup": args.warmup,
        "dataset": counts,
        "pages": [asdict(r) for r in pages],
        "throughput": throughput,
        "commands": commands,
        "import": imported,
        "event_ingest": events,
        "vacuum_seconds": round(vacuum_seconds, 1),
        "host": host,
        "passed": passed,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    table = markdown(report)
    (args.out / "results.md").write_text(table)
    print()
    print(table)
    if missing:
        names = sorted({r.page for r in missing})
        effect = "failing: --require-all" if args.require_all else "not failing without --require-all"
        print(f"Not built yet ({len(names)} pages, {effect}): {', '.join(names)}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
