"""Real processes for the reliability drills: private ``redis-server`` and PostgreSQL servers
on free loopback ports, and helpers to wait for them with a deadline.

Nothing here touches the shared Redis (6379) or PostgreSQL (5432): every server is started
on a free port, owned by the test, and killed by the caller's ``finally``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition: Callable[[], bool], *, timeout: float, interval: float = 0.05, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or condition}")


class RedisServer:
    """``redis-server`` on a free port; ``restart`` keeps the port.

    Without persistence (the default) a restart loses everything, the harshest case. With
    ``data_dir`` it runs as a broker should in production: an append-only file synced on
    every write, so even a SIGKILL loses no message Redis acknowledged.
    """

    def __init__(self, port: int | None = None, *, data_dir: Path | None = None) -> None:
        self.port = port or free_port()
        self.data_dir = data_dir
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        persistence = ["--save", "", "--appendonly", "no"]
        if self.data_dir is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            persistence = ["--save", "", "--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.data_dir)]
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", *persistence],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self.answers, timeout=10, what=f"redis-server on port {self.port}")
        return self

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def queue_length(self, queue: str = "celery") -> int:
        import redis

        client = redis.Redis.from_url(self.url)
        try:
            return client.llen(queue)
        finally:
            client.close()

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def restart(self, *, down_for: float = 1.0) -> None:
        """Kill the server (SIGKILL, as in a crash) and start it again on the same port."""
        self.kill()
        time.sleep(down_for)
        self.start()


def _postgres_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class PostgresCluster:
    """A throw-away PostgreSQL cluster (``initdb``) on a free port, so a drill can restart it.

    As root the cluster is owned by the ``postgres`` user (PostgreSQL refuses to run as root)
    and lives in a directory of its own under the system temp dir, which that user can reach
    (pytest's temporary directories are private to root).
    """

    def __init__(self, base_dir: Path, port: int | None = None) -> None:
        if os.geteuid() == 0:
            import tempfile

            base_dir = Path(tempfile.mkdtemp(prefix="crm-drill-pg-"))
            base_dir.chmod(0o755)
        self.port = port or free_port()
        self.data = base_dir / "pgdata"
        self.log = base_dir / "postgres.log"
        self.bin = _postgres_bin()
        self.base_dir = base_dir

    @classmethod
    def available(cls) -> bool:
        if _postgres_bin() is None:
            return False
        if os.geteuid() == 0:
            try:
                import pwd

                pwd.getpwnam("postgres")
            except KeyError:
                return False
        return True

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=120, check=check)

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def init(self) -> PostgresCluster:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.base_dir, "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        return self

    def start(self) -> PostgresCluster:
        options = f"-p {self.port} -h 127.0.0.1 -k {self.base_dir} -c fsync=off -c full_page_writes=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start")
        return self

    def stop(self, *, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop", check=False)

    def restart(self, *, down_for: float = 1.0) -> None:
        """Stop (immediate: connections drop as in a crash) and start on the same port."""
        self.stop(mode="immediate")
        time.sleep(down_for)
        self.start()

    def destroy(self) -> None:
        self.stop(mode="immediate")
        shutil.rmtree(self.base_dir, ignore_errors=True)


def kill_group(process: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    """Signal a process started with ``start_new_session=True`` and all its children."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)


def worker_database_url() -> str:
    """The URL of the database the tests run on (pytest-django's ``test_…``), for workers."""
    from django.db import connection

    db = connection.settings_dict
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


class CeleryWorker:
    """``celery -A crm worker`` in a session of its own (``sigkill`` kills it and its pool)."""

    def __init__(self, *, env: dict[str, str], log_path: Path, name: str, pool: str = "solo") -> None:
        self.env = env
        self.log_path = log_path
        self.name = name
        self.pool = pool
        self.process: subprocess.Popen | None = None

    def start(self) -> CeleryWorker:
        import sys

        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "crm", "worker", f"--pool={self.pool}", "--loglevel=INFO"]
                + ["--without-gossip", "--without-mingle", "-n", f"{self.name}-{os.getpid()}@%h"],
                cwd=Path(__file__).resolve().parents[2],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def sigkill(self) -> None:
        if self.process is not None:
            kill_group(self.process)
            self.process.wait(timeout=30)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
