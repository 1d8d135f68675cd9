"""What a read replica takes off the primary, measured: the mixed-user load of ``make loadtest``
(bench/locustfile.py) run twice against a private primary and its streaming replica
(scripts/pg_replica.py), once with every read on the primary and once with
``DATABASE_REPLICA_URL`` set, so the list and report pages read the replica
(docs/scaling.md). For each run: the CPU seconds of each server's processes, its
transactions and rows read, and the users' p50/p95. Writes ``bench/replica_load_results.md``.

    python3 scripts/pg_replica.py start --dir .replica
    make dataset SCALE=small BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:55432/crm_bench
    .venv/bin/python bench/replica_load.py [--users 50] [--seconds 60] [--workers 2]
    python3 scripts/pg_replica.py stop --dir .replica

No import runs during the steps: the figures are the pages' reads alone.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.loadtest import MANAGERS, REPS, run_locust, sign_in_sessions  # noqa: E402
from bench.run import _setup_django, host_reference, server_env, start_gunicorn  # noqa: E402
from crm.params import id_or_none  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def _children_cpu(postmaster: int) -> dict[int, float]:
    """CPU seconds (user + system) of the postmaster and each of its child processes."""
    found = {}
    for entry in Path("/proc").iterdir():
        pid = id_or_none(entry.name)
        if pid is None:
            continue  # not a process
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process has just exited
        parent = int(fields[1])  # the kernel's own digits
        if pid == postmaster or parent == postmaster:
            found[pid] = (int(fields[11]) + int(fields[12])) / TICKS
    return found


class ServerCpu:
    """Samples a cluster's processes twice a second, so a backend that exits during the step
    still counts with what it had used when last seen."""

    def __init__(self, data_dir: Path) -> None:
        self.postmaster = int((data_dir / "postmaster.pid").read_text().split()[0])
        self.start = _children_cpu(self.postmaster)
        self.last = dict(self.start)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.5):
            self.last.update(_children_cpu(self.postmaster))

    def seconds(self) -> float:
        self._stop.set()
        self._thread.join()
        self.last.update(_children_cpu(self.postmaster))
        return sum(cpu - self.start.get(pid, 0.0) for pid, cpu in self.last.items())


def _activity(url: str) -> tuple[int, int]:
    """(transactions, rows read) of the database at ``url``."""
    import psycopg2

    with psycopg2.connect(url) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()") if conn.server_version >= 150000 else None
        cursor.execute(
            "SELECT xact_commit + xact_rollback, tup_returned + tup_fetched FROM pg_stat_database "
            "WHERE datname = current_database()"
        )
        transactions, rows = cursor.fetchone()
    conn.close()
    return int(transactions), int(rows)


def run_step(label: str, slug: str, env: dict[str, str], args: argparse.Namespace, cluster: SimpleNamespace) -> dict:
    server = start_gunicorn(env, SimpleNamespace(port=args.port, workers=args.workers))
    try:
        sessions = args.out / "results" / "replica-load-sessions.json"
        sign_in_sessions(args.port, sessions)
        env = {
            **env,
            "LOADTEST_SESSIONS": str(sessions),
            "LOADTEST_REPS": str(REPS),
            "LOADTEST_MANAGERS": str(MANAGERS),
        }
        before = {name: _activity(url) for name, url in cluster.urls.items()}
        cpu = {name: ServerCpu(data) for name, data in cluster.data.items()}
        step = run_locust(
            args.users,
            args.seconds,
            f"http://127.0.0.1:{args.port}",
            args.out / "results" / f"replica-load-{slug}",
            env,
        )
        time.sleep(1.5)  # the statistics collector flushes about once a second
        step["cpu"] = {name: sampler.seconds() for name, sampler in cpu.items()}
        after = {name: _activity(url) for name, url in cluster.urls.items()}
        step["transactions"] = {name: after[name][0] - before[name][0] for name in after}
        step["rows"] = {name: after[name][1] - before[name][1] for name in after}
        sessions.unlink(missing_ok=True)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    step["label"] = label
    print(
        f"  {label}: {step['requests']} requests, {step['errors']} errors, p50 {step['p50_ms']:.0f} ms,"
        f" p95 {step['p95_ms']:.0f} ms; primary {step['cpu']['primary']:.1f} s CPU,"
        f" replica {step['cpu']['replica']:.1f} s CPU"
    )
    return step


def markdown(steps: list[dict], args: argparse.Namespace, host: dict) -> str:
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# What the read replica takes off the primary",
        "",
        f"{when}, `bench/replica_load.py`: the mixed users of `make loadtest` (bench/locustfile.py, no import),"
        f" {args.users} users for {args.seconds} s against gunicorn with {args.workers} workers, a private primary"
        f" and streaming replica on this machine (scripts/pg_replica.py), the small preset in both. Host reference:"
        f" {host}.",
        "",
        "| reads | requests | errors | p50 ms | p95 ms | primary CPU s | replica CPU s"
        " | primary transactions | replica transactions | primary rows read | replica rows read |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in steps:
        lines.append(
            f"| {s['label']} | {s['requests']:,} | {s['errors']} | {s['p50_ms']:.0f} | {s['p95_ms']:.0f}"
            f" | {s['cpu']['primary']:.1f} | {s['cpu']['replica']:.1f}"
            f" | {s['transactions']['primary']:,} | {s['transactions']['replica']:,}"
            f" | {s['rows']['primary']:,} | {s['rows']['replica']:,} |"
        )
    if len(steps) == 2 and steps[0]["cpu"]["primary"]:
        base, with_replica = steps
        per_request = [s["cpu"]["primary"] / max(1, s["requests"]) * 1000 for s in steps]
        lines += [
            "",
            f"Per request the primary spent {per_request[0]:.1f} ms of CPU with every read on it and"
            f" {per_request[1]:.1f} ms with the replica serving the list and report pages"
            f" ({1 - per_request[1] / per_request[0]:.0%} less); its rows read fell from"
            f" {base['rows']['primary']:,} to {with_replica['rows']['primary']:,}.",
        ]
    lines += ["", "Reproduce: the commands at the top of `bench/replica_load.py`.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, default=ROOT / ".replica", help="scripts/pg_replica.py's --dir")
    parser.add_argument("--primary-port", type=int, default=55432)
    parser.add_argument("--replica-port", type=int, default=55433)
    parser.add_argument("--database", default="crm_bench")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=8108)
    parser.add_argument("--out", type=Path, default=ROOT / "bench")
    args = parser.parse_args(argv)
    cluster = SimpleNamespace(
        urls={
            "primary": f"postgres://postgres@127.0.0.1:{args.primary_port}/{args.database}",
            "replica": f"postgres://postgres@127.0.0.1:{args.replica_port}/{args.database}",
        },
        data={"primary": args.dir / "primary", "replica": args.dir / "replica"},
    )
    if not (args.dir / "primary" / "postmaster.pid").exists():
        print(f"No private primary in {args.dir}: run `python3 scripts/pg_replica.py start --dir {args.dir}` first.")
        return 2
    os.environ["DATABASE_URL"] = cluster.urls["primary"]
    os.environ.pop("DATABASE_REPLICA_URL", None)
    _setup_django()  # host_reference times a query on the primary
    (args.out / "results").mkdir(parents=True, exist_ok=True)
    host = host_reference()
    env = server_env(args.port)
    steps = [
        run_step("all on the primary", "primary", env, args, cluster),
        run_step(
            "lists and reports on the replica",
            "replica",
            {**env, "DATABASE_REPLICA_URL": cluster.urls["replica"]},
            args,
            cluster,
        ),
    ]
    text = markdown(steps, args, host)
    print(text)
    (args.out / "replica_load_results.md").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
