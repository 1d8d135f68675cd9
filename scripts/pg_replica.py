#!/usr/bin/env python3
"""A private PostgreSQL primary with a streaming replica on loopback ports, for the replica
drill and for trying the read replica by hand (docs/scaling.md).

    scripts/pg_replica.py start [--dir .replica] [--primary-port 55432] [--replica-port 55433]
    scripts/pg_replica.py stop  [--dir .replica]

Uses the server binaries of the installed PostgreSQL (``pg_config --bindir``, else
/usr/lib/postgresql/*/bin): ``initdb`` a primary, ``pg_basebackup -R`` a replica from it, start
both. Nothing of the system's own cluster is touched. Run as root, the clusters belong to the
``postgres`` user (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import argparse
import glob
import os
import pwd
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


def bindir() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True)
    for candidate in [os.environ.get("PG_BINDIR", ""), *candidates]:
        if candidate and (Path(candidate) / "initdb").exists():
            return Path(candidate)
    pg_config = shutil.which("pg_config")
    if pg_config:
        path = Path(subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=True).stdout.strip())
        if (path / "initdb").exists():
            return path
    raise SystemExit("PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup) not found: apt-get install postgresql")


@dataclass
class Cluster:
    root: Path
    primary_port: int
    replica_port: int

    @property
    def primary_dir(self) -> Path:
        return self.root / "primary"

    @property
    def replica_dir(self) -> Path:
        return self.root / "replica"

    @property
    def socket_dir(self) -> Path:
        return self.root / "run"

    def url(self, which: str, database: str = "crm") -> str:
        port = self.primary_port if which == "primary" else self.replica_port
        return f"postgres://postgres@127.0.0.1:{port}/{database}"


def _as_postgres(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    if os.geteuid() == 0:
        args = ["runuser", "-u", "postgres", "--", *args]
    return subprocess.run(args, check=True, capture_output=True, text=True, **kwargs)


def _owner_fix(path: Path) -> None:
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(path, user.pw_uid, user.pw_gid)


def _wait_ready(bin_: Path, port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready = subprocess.run([str(bin_ / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)], capture_output=True)
        if ready.returncode == 0:
            return
        time.sleep(0.2)
    raise RuntimeError(f"PostgreSQL on port {port} did not become ready in {timeout:.0f} s")


def _pg_ctl(bin_: Path, data: Path, action: str, port: int | None = None, log: Path | None = None) -> None:
    args = [str(bin_ / "pg_ctl"), "-D", str(data), "-w", "-t", "60"]
    if log is not None:
        args += ["-l", str(log)]
    if port is not None:
        args += ["-o", f"-p {port} -k {data.parent / 'run'} -c listen_addresses=127.0.0.1"]
    _as_postgres([*args, action])


def start(cluster: Cluster) -> Cluster:
    """A fresh primary and a streaming replica of it, both running; returns ``cluster``."""
    bin_ = bindir()
    stop(cluster, missing_ok=True)
    if cluster.root.exists():
        shutil.rmtree(cluster.root)
    for path in (cluster.root, cluster.socket_dir):
        path.mkdir(parents=True, exist_ok=True)
        _owner_fix(path)
    _as_postgres([str(bin_ / "initdb"), "-D", str(cluster.primary_dir), "-U", "postgres", "-A", "trust", "-E", "UTF8"])
    with (cluster.primary_dir / "postgresql.conf").open("a") as conf:
        conf.write(
            "\n# scripts/pg_replica.py\nwal_level = replica\nmax_wal_senders = 5\nhot_standby = on\n"
            "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 100\n"
        )
    with (cluster.primary_dir / "pg_hba.conf").open("a") as hba:
        hba.write("host replication postgres 127.0.0.1/32 trust\n")
    _pg_ctl(bin_, cluster.primary_dir, "start", cluster.primary_port, cluster.root / "primary.log")
    _wait_ready(bin_, cluster.primary_port)
    _as_postgres(
        [str(bin_ / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(cluster.primary_port), "-U", "postgres"]
        + ["-D", str(cluster.replica_dir), "-R", "-X", "stream", "-c", "fast"]
    )
    _pg_ctl(bin_, cluster.replica_dir, "start", cluster.replica_port, cluster.root / "replica.log")
    _wait_ready(bin_, cluster.replica_port)
    return cluster


def stop_replica(cluster: Cluster) -> None:
    _pg_ctl(bindir(), cluster.replica_dir, "stop")


def stop(cluster: Cluster, missing_ok: bool = False) -> None:
    bin_ = bindir()
    for data in (cluster.replica_dir, cluster.primary_dir):
        if (data / "postmaster.pid").exists():
            try:
                _as_postgres([str(bin_ / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"])
            except subprocess.CalledProcessError:
                if not missing_ok:
                    raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("--dir", default=".replica", help="where the two clusters live (default .replica)")
    parser.add_argument("--primary-port", type=int, default=55432)
    parser.add_argument("--replica-port", type=int, default=55433)
    args = parser.parse_args(argv)
    cluster = Cluster(Path(args.dir).resolve(), args.primary_port, args.replica_port)
    if args.action == "stop":
        stop(cluster, missing_ok=True)
        print("Stopped the primary and the replica in", cluster.root)
        return 0
    try:
        start(cluster)
    except subprocess.CalledProcessError as exc:
        sys.stderr.write(f"{' '.join(exc.cmd)} failed:\n{exc.stderr}\n")
        return 1
    print(f"Primary  {cluster.url('primary')}\nReplica  {cluster.url('replica')}")
    print(
        "Create the database once on the primary (the replica follows):\n"
        f"  DATABASE_URL={cluster.url('primary')} .venv/bin/python manage.py ensure_database\n"
        "then serve with both:\n"
        f"  DATABASE_URL={cluster.url('primary')} DATABASE_REPLICA_URL={cluster.url('replica')} make run"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
