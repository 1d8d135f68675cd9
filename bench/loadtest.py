"""``make loadtest``: mixed users against gunicorn, step by step, with an import running.

For each number of gunicorn workers (2 and 4) and of users (25, 50, 100): serve the CRM as
``make bench`` does (DEBUG off, the generated dataset), queue a 20,000-row contact import for
a bulk Celery worker, and run Locust headless (bench/locustfile.py: reps browsing, searching,
logging activities and moving deals; managers reading reports) for ``--seconds``. Then a
capacity step per number of workers: ``--capacity-users`` users clicking without pause, whose
rate is what the server can serve (the paced steps' rate is what their users ask for: 100
people reading 1–3 s between clicks send about 50 requests/s, which 2 workers may serve as
well as 4). Writes p50/p95/p99, errors and requests/s per step to
``bench/results/loadtest.json`` and ``bench/loadtest_results.md``; exits 1 when a target is
missed (0 errors; p95 ≤ 150 ms at 50 users with 4 workers; the capacity's requests/s growing
with workers).

    .venv/bin/python bench/loadtest.py [--scale large] [--seconds 60] [--users 25 50 100] [--workers 2 4]
        [--capacity-users 16]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import PYTHON, _setup_django, ensure_dataset, host_reference, server_env, start_gunicorn  # noqa: E402

IMPORT_ROWS = 20_000
# Who the simulated users sign in as (bench/dataset.py's users), passed on to the locustfile.
REPS, MANAGERS = 20, 3
PASSWORD = os.environ.get("LOADTEST_PASSWORD", "bench-pass-2026")  # bench.dataset.DEFAULT_PASSWORD
# The imported contacts' email domain: removed again after the run (and before one, should an
# earlier run have been stopped), so the dataset keeps its preset's sizes for `make bench`.
IMPORT_DOMAIN = "loadtest.example.com"
P95_TARGET_MS = 150.0


def start_bulk_worker(env: dict[str, str], queue: str) -> subprocess.Popen:
    return subprocess.Popen(
        # As the Procfile starts it: below the web workers' CPU priority (docs/scaling.md).
        ["nice", "-n", "10", PYTHON, "-m", "celery", "-A", "crm", "worker", "--concurrency=1", "--loglevel=WARNING"]
        + ["-Q", f"{queue}.imports,{queue}.rollups", "-n", f"loadtest-bulk-{os.getpid()}@%h"],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )


def queue_import(env: dict[str, str], owner: str) -> None:
    """A confirmed contact import, sent through the outbox as the import page sends it."""
    rows = "".join(f"Load{i},load{i}-{time.time_ns()}@{IMPORT_DOMAIN}\n" for i in range(IMPORT_ROWS))
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as handle:
        handle.write("Last name,Email\n" + rows)
    code = (
        "from django.db import transaction\n"
        "from contacts import import_services\n"
        "from contacts.models import ImportState\n"
        "from crm.models import User\n"
        "from crm.services import outbox_enqueue\n"
        f"job = import_services.import_upload(actor=User.objects.get(username={owner!r}), kind='contacts',"
        f" file_name='load.csv', data=open({handle.name!r}, 'rb').read())\n"
        "job.options = {**job.options, 'match_key': 'email'}\n"
        "job.preview = {'created': 1}\n"
        "job.state = ImportState.PENDING\n"
        "job.save()\n"
        "with transaction.atomic():\n"
        "    outbox_enqueue(task='contacts.tasks.import_run', args=[job.pk])\n"
    )
    subprocess.run([PYTHON, "manage.py", "shell", "-c", code], cwd=ROOT, env=env, check=True)
    os.unlink(handle.name)


def sign_in_sessions(port: int, path: Path) -> None:
    """Sign every simulated username in once, through the login page, and keep the cookies in
    ``path`` for the locustfile (``LOADTEST_SESSIONS``): a step then measures a working day's
    clicks, not 100 password hashes at 0.5 s of CPU each."""
    from bench.run import Session

    usernames = [f"bench-rep-{n:02d}" for n in range(1, REPS + 1)] + [
        f"bench-manager-{n}" for n in range(1, MANAGERS + 1)
    ]
    cookies = {}
    for username in usernames:
        session = Session(port)
        session.login(username, PASSWORD)
        cookies[username] = dict(session.cookies)
    path.write_text(json.dumps(cookies))


def remove_imported() -> int:
    """Delete the contacts the steps' imports created (and what hangs off them), without a
    history row each: 120,000 "deleted" rows one INSERT at a time took longer than the run."""
    from django.test.utils import override_settings

    from contacts.models import Contact

    with override_settings(SIMPLE_HISTORY_ENABLED=False):
        deleted, _per_model = Contact.objects.filter(email__endswith=f"@{IMPORT_DOMAIN}").delete()
    return deleted


def run_locust(users: int, seconds: int, url: str, out_prefix: Path, env: dict[str, str]) -> dict:
    subprocess.run(
        [str(Path(PYTHON).with_name("locust")), "-f", str(ROOT / "bench" / "locustfile.py"), "--headless"]
        + ["-u", str(users), "-r", str(max(1, users // 5)), "-t", f"{seconds}s", "--host", url]
        + ["--csv", str(out_prefix), "--only-summary", "--stop-timeout", "5", "--loglevel", "WARNING"]
        + ["--reset-stats"],  # from when every user has started
        cwd=ROOT,
        env=env,
        check=False,  # locust exits 1 when a request failed: the figures say so
    )
    with open(f"{out_prefix}_stats.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    total = next(row for row in rows if row["Name"] == "Aggregated")
    pages = {
        row["Name"]: {"requests": int(row["Request Count"]), "p95_ms": float(row["95%"] or 0)}
        for row in rows
        if row["Name"] != "Aggregated"
    }
    return {
        "requests": int(total["Request Count"]),
        "errors": int(total["Failure Count"]),
        "p50_ms": float(total["50%"] or 0),
        "p95_ms": float(total["95%"] or 0),
        "p99_ms": float(total["99%"] or 0),
        "rps": float(total["Requests/s"] or 0),
        "pages": pages,
    }


def markdown(report: dict) -> str:
    lines = [
        "# Load test: mixed users",
        "",
        f"{report['when']}, dataset {report['dataset']}, {report['seconds']} s per step, Locust "
        f"(bench/locustfile.py: reps 6 : managers 2, 1–3 s between clicks), "
        + (
            f"a {IMPORT_ROWS:,}-row import queued at each step on a bulk worker"
            if report.get("import", True)
            else "no import"
        )
        + f", gunicorn sync workers, DEBUG off. Host reference: "
        f"{report['host']}.",
        "",
        "| workers | users | requests | errors | p50 ms | p95 ms | p99 ms | requests/s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for step in report["steps"]:
        users = f"{step['users']}, no pause" if step.get("capacity") else str(step["users"])
        lines.append(
            f"| {step['workers']} | {users} | {step['requests']:,} | {step['errors']} | {step['p50_ms']:.0f} "
            f"| {step['p95_ms']:.0f} | {step['p99_ms']:.0f} | {step['rps']:.1f} |"
        )
    lines += [
        "",
        "The paced steps' requests/s is what their users ask for (1–3 s between clicks: about 12, "
        "25 and 50 requests/s for 25, 50 and 100 users) as long as the server keeps up; the "
        "*no pause* steps' is what the server can serve, so that is where more workers must show.",
        "",
        "Targets:",
        "",
    ]
    lines += [f"- {'met' if ok else 'NOT met'}: {label}" for label, ok in report["targets"]]
    lines += ["", "Reproduce: `make loadtest` (`SCALE=small` for a quick run)."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=["small", "large"])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--users", type=int, nargs="+", default=[25, 50, 100])
    parser.add_argument("--workers", type=int, nargs="+", default=[2, 4])
    parser.add_argument(
        "--capacity-users",
        type=int,
        default=16,
        help="users clicking without pause in each number of workers' last step (0: no such step)",
    )
    parser.add_argument("--port", type=int, default=int(os.environ.get("LOADTEST_PORT", 8107)))
    parser.add_argument("--out", type=Path, default=ROOT / "bench")
    parser.add_argument(
        "--no-import",
        dest="with_import",
        action="store_false",
        help="no import during the steps (to compare); the bulk worker still runs the rollups",
    )
    args = parser.parse_args(argv)

    _setup_django()
    from django.conf import settings

    from bench.dataset import MANAGER_USERNAME
    from bench.run import dataset_counts

    env = server_env(args.port)
    env.setdefault("CELERY_QUEUE", "crm-loadtest")
    if args.scale:
        ensure_dataset(args.scale, env)
    counts = dataset_counts()
    if not counts["users"]:
        print(f"No benchmark users in {settings.DATABASES['default']['NAME']}: run `make dataset` first.")
        return 2
    dataset = ", ".join(f"{n:,} {name}" for name, n in counts.items())
    print(f"Dataset: {dataset}")
    (args.out / "results").mkdir(parents=True, exist_ok=True)
    host = host_reference()
    steps = []
    sessions = args.out / "results" / "loadtest-sessions.json"
    env.update(LOADTEST_SESSIONS=str(sessions), LOADTEST_REPS=str(REPS), LOADTEST_MANAGERS=str(MANAGERS))
    remove_imported()
    # Started without the import too: the rollups the clicks queue (a deal move refreshes its
    # customer's value) run on it, as they would in production.
    worker = start_bulk_worker(env, env["CELERY_QUEUE"])
    try:
        for workers in args.workers:
            server = start_gunicorn(env, SimpleNamespace(port=args.port, workers=workers))
            try:
                sign_in_sessions(args.port, sessions)
                plan = [(users, False) for users in args.users]
                plan += [(args.capacity_users, True)] if args.capacity_users else []
                for users, no_pause in plan:
                    if args.with_import:
                        queue_import(env, MANAGER_USERNAME)
                    name = f"loadtest-w{workers}-u{users}" + ("-no-pause" if no_pause else "")
                    step = run_locust(
                        users,
                        args.seconds,
                        f"http://127.0.0.1:{args.port}",
                        args.out / "results" / name,
                        {**env, "LOADTEST_THINK": "0" if no_pause else "1-3"},
                    )
                    step.update(workers=workers, users=users, capacity=no_pause)
                    print(
                        f"  {workers} workers, {users} users{', no pause' if no_pause else ''}: {step['requests']}"
                        f" requests, {step['errors']} errors, p50 {step['p50_ms']:.0f} ms, p95 {step['p95_ms']:.0f} ms,"
                        f" {step['rps']:.1f}/s"
                    )
                    steps.append(step)
            finally:
                os.killpg(server.pid, signal.SIGTERM)
                server.wait(timeout=30)
    finally:
        os.killpg(worker.pid, signal.SIGKILL)  # an import still running is not waited for
        worker.wait(timeout=60)
        sessions.unlink(missing_ok=True)
        print(f"Removed {remove_imported():,} imported contacts and what they carried.")

    def step(workers: int, users: int) -> dict | None:
        return next(
            (s for s in steps if s["workers"] == workers and s["users"] == users and not s.get("capacity")), None
        )

    targets = [("0 errors in every step", all(s["errors"] == 0 for s in steps))]
    at50 = step(4, 50)
    if at50:
        targets.append(
            (
                f"p95 ≤ {P95_TARGET_MS:.0f} ms at 50 users with 4 workers ({at50['p95_ms']:.0f} ms)",
                at50["p95_ms"] <= P95_TARGET_MS,
            )
        )
    capacity = {s["workers"]: s for s in steps if s.get("capacity")}
    low, high = capacity.get(min(args.workers)), capacity.get(max(args.workers))
    if low and high and low is not high:
        targets.append(
            (
                f"requests/s grow with workers, users clicking without pause "
                f"({low['workers']} → {high['workers']} workers: {low['rps']:.1f} → {high['rps']:.1f})",
                high["rps"] > low["rps"],
            )
        )
    report = {
        "when": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "dataset": dataset,
        "seconds": args.seconds,
        "import": args.with_import,
        "host": host,
        "steps": steps,
        "targets": targets,
    }
    (args.out / "results" / "loadtest.json").write_text(json.dumps(report, indent=2))
    (args.out / "loadtest_results.md").write_text(markdown(report))
    print(markdown(report))
    return 0 if all(ok for _, ok in targets) else 1


if __name__ == "__main__":
    sys.exit(main())
