"""The CRM as it runs for real, for the fault drill: a private PostgreSQL cluster and Redis,
gunicorn, a Celery worker and beat under ``scripts/supervise.py`` (what ``make run`` uses),
and a small HTTP client that signs in and sends what the browser sends.

Nothing here touches the shared PostgreSQL (5432) or Redis (6379).
"""

from __future__ import annotations

import http.client
import http.cookiejar
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2

from crm.tests.processes import PostgresCluster, RedisServer, free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "drill-pass-2026"


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@dataclass
class DrillStack:
    base_dir: Path
    postgres: PostgresCluster = field(init=False)
    redis: RedisServer = field(init=False)
    port: int = field(init=False)
    env: dict[str, str] = field(init=False)
    supervisor: subprocess.Popen | None = None

    def __post_init__(self) -> None:
        self.postgres = PostgresCluster(self.base_dir / "pg")
        # Persistent, as a broker must be: queued follow-up work survives the restart.
        self.redis = RedisServer(data_dir=self.base_dir / "redis")
        self.port = free_port()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.base_dir / "supervisor.log"

    def manage(self, *args: str, timeout: int = 900) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def setup(self) -> None:
        self.postgres.init().start()
        self.postgres._run("createdb", "-h", "127.0.0.1", "-p", str(self.postgres.port), "-U", "postgres", "crm_drill")
        self.redis.start()
        var = self.base_dir / "var"
        var.mkdir(parents=True, exist_ok=True)
        self.env = {
            **os.environ,
            "DEBUG": "1",
            "DATABASE_URL": self.postgres.url("crm_drill"),
            "REDIS_URL": self.redis.url,
            "CACHE_URL": self.redis.url.rsplit("/", 1)[0] + "/1",
            "CACHE_KEY_PREFIX": "drill",
            "CELERY_QUEUE": "drill",
            "CRM_VAR_DIR": str(var),
            "DEMO_PASSWORD": PASSWORD,
            "JOB_LEASE_SECONDS": "6",
            "JOB_HEARTBEAT_SECONDS": "1",
            "REMINDER_LEASE_SECONDS": "20",
            "BEAT_SWEEP_SECONDS": "10",
            "PYTHONUNBUFFERED": "1",
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        }
        self.env.pop("DATABASE_REPLICA_URL", None)
        self.manage("migrate", "--no-input", "-v", "0")
        self.manage("seed_demo")
        self.manage("rebuild_rollups")

    def start(self, workers: dict[str, str] | None = None) -> None:
        """Web, beat and ``workers`` (name: extra celery worker arguments; default one worker
        with two processes on every queue)."""
        procfile = self.base_dir / "Procfile"
        python = sys.executable
        workers = workers or {"worker": "--concurrency=2"}
        procfile.write_text(
            f"web: {python} -m gunicorn crm.wsgi -w 2 -b 127.0.0.1:{self.port} --timeout 30 --graceful-timeout 5\n"
            + "".join(
                f"{name}: {python} -m celery -A crm worker {args} --loglevel=INFO -n {name}-{os.getpid()}@%h\n"
                for name, args in workers.items()
            )
            + f"beat: {python} -m celery -A crm beat --loglevel=INFO --schedule {self.base_dir}/beat-schedule\n"
        )
        with self.log.open("wb") as out:
            self.supervisor = subprocess.Popen(
                [python, str(ROOT / "scripts" / "supervise.py"), "-f", str(procfile)],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until(lambda: self.healthz()[0] == 200, timeout=120, interval=1, what="/healthz to answer 200")

    def stop(self) -> None:
        if self.supervisor is not None and self.supervisor.poll() is None:
            self.supervisor.send_signal(signal.SIGINT)
            try:
                self.supervisor.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.supervisor.pid, signal.SIGKILL)
                self.supervisor.wait(timeout=10)
        self.redis.kill()
        self.postgres.destroy()

    def pid_of(self, name: str) -> int:
        """The current pid of a supervised process (its latest start)."""
        pids = re.findall(rf"started {name} \(pid (\d+)\)", self.log.read_text(errors="replace"))
        return int(pids[-1])

    def healthz(self) -> tuple[int, dict]:
        import json

        try:
            with urllib.request.urlopen(f"{self.base_url}/healthz", timeout=5) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")
        except (OSError, ValueError):
            return 0, {}

    def db(self):
        return psycopg2.connect(
            dbname="crm_drill", user="postgres", host="127.0.0.1", port=self.postgres.port, connect_timeout=5
        )

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        conn = self.db()
        try:
            with conn.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall()
        finally:
            conn.close()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    """What a signed-in browser sends: cookies, the CSRF token, form posts (htmx ones too)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirect)

    def _csrf(self) -> str:
        return next((c.value for c in self.cookies if c.name == "csrftoken"), "")

    def request(self, path: str, data: dict | None = None, *, htmx: bool = False) -> tuple[int, str, str]:
        """(status, Location, body); status 0 when the server did not answer."""
        body = urllib.parse.urlencode(data, doseq=True).encode() if data is not None else None
        request = urllib.request.Request(self.base_url + path, data=body)
        if data is not None:
            request.add_header("X-CSRFToken", self._csrf())
            request.add_header("Content-Type", "application/x-www-form-urlencoded")
        if htmx:
            request.add_header("HX-Request", "true")
        try:
            with self.opener.open(request, timeout=20) as response:
                return response.status, response.headers.get("Location", ""), response.read().decode(errors="replace")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers.get("Location", ""), exc.read().decode(errors="replace")
        except (OSError, http.client.HTTPException):
            return 0, "", ""

    def sign_in(self, username: str, *, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.request("/accounts/login/")
            status, location, _body = self.request(
                "/accounts/login/",
                {"username": username, "password": PASSWORD, "csrfmiddlewaretoken": self._csrf()},
            )
            if status == 302 and "login" not in location:
                return
            time.sleep(1)
        raise AssertionError(f"{username} could not sign in")
