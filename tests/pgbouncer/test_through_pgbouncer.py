"""The CRM behind PgBouncer in transaction pooling mode (docs/scaling.md, "PgBouncer").

A private PgBouncer (Debian's package) on a free loopback port, `pool_mode = transaction`, in
front of the test PostgreSQL; then a subset of the suite — pages, forms, the board's
concurrent moves, the outbox, reminder claims with SKIP LOCKED, concurrency conflicts — runs
in a child pytest whose every connection goes through it. The pool is kept small so that
connections really are shared between transactions.

Slow (a second pytest run): marked so, still run by `make test`.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg2
import pytest
from django.conf import settings

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("pgbouncer")]

ROOT = Path(__file__).resolve().parents[2]
SUBSET = [
    "contacts/tests/test_company_views.py",
    "deals/tests/test_views.py",
    "deals/tests/test_concurrency.py",
    "activities/tests/test_reminders.py",
    "activities/tests/test_concurrency.py",
    "crm/tests/test_outbox.py",
]


def _pgbouncer() -> str:
    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    if not Path(binary).exists():
        if os.geteuid() == 0 and shutil.which("apt-get"):
            subprocess.run(["apt-get", "install", "-y", "-qq", "pgbouncer"], check=True, capture_output=True)
        else:
            raise AssertionError("PgBouncer is not installed: apt-get install pgbouncer")
    return binary


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def pgbouncer():
    binary = _pgbouncer()
    db = settings.DATABASES["default"]
    user = db.get("USER") or "postgres"
    root = Path(tempfile.mkdtemp(prefix="crm-pgbouncer-"))
    root.chmod(0o777)
    port = _free_port()
    (root / "users.txt").write_text(f'"{user}" ""\n')
    (root / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"* = host={db.get('HOST') or '127.0.0.1'} port={db.get('PORT') or 5432}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {root / 'users.txt'}\n"
        "pool_mode = transaction\ndefault_pool_size = 4\nmax_client_conn = 200\n"
        "ignore_startup_parameters = extra_float_digits\n"
        f"logfile = {root / 'pgbouncer.log'}\npidfile = {root / 'pgbouncer.pid'}\n"
    )
    command = [binary, str(root / "pgbouncer.ini")]
    if os.geteuid() == 0:  # PgBouncer refuses to run as root
        command = ["runuser", "-u", "postgres", "--", *command]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            psycopg2.connect(host="127.0.0.1", port=port, user=user, dbname="postgres").close()
            break
        except psycopg2.OperationalError:
            time.sleep(0.2)
    else:
        process.kill()
        raise AssertionError(f"PgBouncer did not start: {(root / 'pgbouncer.log').read_text(errors='replace')}")
    try:
        yield {"port": port, "user": user, "root": root}
    finally:
        process.terminate()
        process.wait(timeout=20)
        shutil.rmtree(root, ignore_errors=True)


def test_a_subset_of_the_suite_passes_through_pgbouncer_in_transaction_mode(pgbouncer):
    name = f"crm_pgb_{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{pgbouncer['user']}@127.0.0.1:{pgbouncer['port']}/{name}",
        "CACHE_KEY_PREFIX": f"pgbouncer-{name}",
        # As docs/scaling.md sets the web behind the pooler: no connection kept, no statement prepared.
        "DATABASE_CONN_MAX_AGE": "0",
        "DATABASE_PREPARED_STATEMENTS": "0",
    }
    env.pop("DATABASE_REPLICA_URL", None)
    env.pop("PYTEST_XDIST_WORKER", None)
    try:
        result = subprocess.run(
            # --reuse-db: pytest-django leaves the test database for us to drop (PgBouncer still
            # holds server connections to it when the run ends).
            [sys.executable, "-m", "pytest", "-n", "0", "-q", "--reuse-db", *SUBSET],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=1200,
        )
    finally:
        admin = psycopg2.connect(host="127.0.0.1", port=5432, user=pgbouncer["user"], dbname="postgres")
        admin.autocommit = True
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "test_{name}" WITH (FORCE)')
        admin.close()
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert "failed" not in summary and "error" not in summary and "skipped" not in summary
    passed = int(summary.split(" passed")[0].split()[-1])
    assert passed >= 130, summary  # the whole subset ran
    # The run really went through PgBouncer: its log shows the test database's connections.
    log = (pgbouncer["root"] / "pgbouncer.log").read_text(errors="replace")
    assert f"test_{name}" in log
