"""Run by tests/replica/test_replica.py in its own process, against a private primary and a
streaming replica (scripts/pg_replica.py): a real Django with DATABASE_URL and
DATABASE_REPLICA_URL set, driven through the test client as two reps of one team.

Prints one JSON object of observations (which database served what, what each page showed);
the test asserts on them. Nothing here asserts: a probe that stopped early leaves out what it
did not observe, and the test fails on the missing key.

    python tests/replica/probe.py <cluster-dir> <primary-port> <replica-port>
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")

import django  # noqa: E402

django.setup()

import psycopg2  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connections  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

from crm import replica  # noqa: E402
from crm.models import Role, Team, User  # noqa: E402
from scripts.pg_replica import Cluster, stop_replica  # noqa: E402

APP_TABLE = re.compile(r'"(contacts|deals|activities|reports)_\w+"')
WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE)\b", re.I)


class Recorder:
    """Every statement each alias runs, through Django's execute wrappers."""

    def __init__(self) -> None:
        self.sql: dict[str, list[str]] = {"default": [], "replica": []}

    def wrapper(self, alias: str):
        def record(execute, sql, params, many, context):
            self.sql[alias].append(sql)
            return execute(sql, params, many, context)

        return record

    def mark(self) -> dict[str, int]:
        return {alias: len(statements) for alias, statements in self.sql.items()}

    def since(self, mark: dict[str, int]) -> dict[str, list[str]]:
        return {alias: statements[mark[alias] :] for alias, statements in self.sql.items()}


class Warnings(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def replica_sql(url: str, sql: str):
    with psycopg2.connect(url) as conn, conn.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone() if cursor.description else None


def wait_replayed(primary_url: str, replica_url: str, timeout: float = 30.0) -> None:
    target = replica.parse_lsn(replica_sql(primary_url, "SELECT pg_current_wal_lsn()::text")[0])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        replayed = replica.parse_lsn(replica_sql(replica_url, "SELECT pg_last_wal_replay_lsn()::text")[0])
        if replayed is not None and replayed >= target:
            return
        time.sleep(0.1)
    raise RuntimeError("the replica did not catch up")


def page(client: Client, recorder: Recorder, path: str) -> dict:
    mark = recorder.mark()
    response = client.get(path)
    sql = recorder.since(mark)
    body = response.content.decode()
    return {
        "status": response.status_code,
        "body": body,
        "app_reads": {alias: sum(1 for s in statements if APP_TABLE.search(s)) for alias, statements in sql.items()},
        "data_as_of": "Data as of" in body,
    }


def main() -> None:
    cluster = Cluster(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
    primary_url, replica_url = cluster.url("primary", "postgres"), cluster.url("replica", "postgres")
    out: dict = {}

    call_command("migrate", verbosity=0)
    setup_test_environment()
    settings.ALLOWED_HOSTS = ["testserver"]
    settings.REQUIRE_2FA_FOR = []
    settings.REPLICA_STATUS_SECONDS = 0  # check the replica on every page, to see each step
    settings.REPLICA_LAG_WARNING_SECONDS = 1

    team = Team.objects.create(name="Replica drill")
    ann = User.objects.create_user("ann", password="pw-ann-123456", role=Role.REP)
    ben = User.objects.create_user("ben", password="pw-ben-123456", role=Role.REP)
    team.members.add(ann, ben)
    clients = {}
    for user in (ann, ben):
        clients[user.username] = Client()
        clients[user.username].force_login(user)
    wait_replayed(primary_url, replica_url)

    recorder = Recorder()
    warnings = Warnings()
    logging.getLogger("crm.replica").addHandler(warnings)
    with (
        connections["default"].execute_wrapper(recorder.wrapper("default")),
        connections["replica"].execute_wrapper(recorder.wrapper("replica")),
    ):
        # 1. A list and a report, nothing written: both read the replica only.
        for name, path in [("companies", "/companies/"), ("funnel", "/reports/funnel/"), ("deals", "/deals/")]:
            seen = page(clients["ben"], recorder, path)
            out[f"quiet_{name}"] = {k: v for k, v in seen.items() if k != "body"}

        # 2. Replay paused: Ann creates a company; her list shows it at once (primary),
        #    Ben's list (replica) does not, and says how old its data is.
        replica_sql(replica_url, "SELECT pg_wal_replay_pause()")
        mark = recorder.mark()
        response = clients["ann"].post(
            "/companies/new/",
            {
                "name": "Replica Probe Co",
                "domain": "replica-probe.example",
                "lifecycle_stage": "customer",
                "source": "",
                "phone": "",
                "email": "",
                "country": "US",
                "tags": "",
                "owner": ann.pk,
            },
        )
        out["create_status"] = response.status_code
        written = recorder.since(mark)
        out["create_writes"] = {alias: sum(1 for s in sql if WRITE.match(s)) for alias, sql in written.items()}
        seen = page(clients["ann"], recorder, "/companies/?q=Replica+Probe")
        out["writer_after_write"] = {"shows": "Replica Probe Co" in seen["body"], **seen, "body": None}
        time.sleep(1.5)
        seen = page(clients["ben"], recorder, "/companies/?q=Replica+Probe")
        out["reader_while_paused"] = {"shows": "Replica Probe Co" in seen["body"], **seen, "body": None}

        # 3. Replay resumed: everyone sees it, from the replica, with no lag warning.
        replica_sql(replica_url, "SELECT pg_wal_replay_resume()")
        wait_replayed(primary_url, replica_url)
        for who in ("ann", "ben"):
            seen = page(clients[who], recorder, "/companies/?q=Replica+Probe")
            out[f"{who}_after_replay"] = {"shows": "Replica Probe Co" in seen["body"], **seen, "body": None}

        # 4. The replica stops while it is believed up: the page falls back mid-request;
        #    the next page skips it from the start. Both are served, from the primary.
        replica.status()  # a fresh "up"...
        settings.REPLICA_STATUS_SECONDS = 3600  # ...believed for the next page
        stop_replica(cluster)
        for step in ("replica_stopped_mid_page", "replica_stopped_next_page"):
            seen = page(clients["ben"], recorder, "/companies/?q=Replica+Probe")
            out[step] = {"shows": "Replica Probe Co" in seen["body"], **seen, "body": None}
    out["replica_writes"] = [s for s in recorder.sql["replica"] if WRITE.match(s)]
    out["replica_statements"] = len(recorder.sql["replica"])
    out["warnings"] = warnings.messages
    print(json.dumps(out, default=str))


if __name__ == "__main__":
    main()
