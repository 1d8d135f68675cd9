"""The backup drill: a seeded CRM database is backed up with scripts/backup.py (pg_dump),
restored into a new database (pg_restore), and every table — records, history rows,
rollups, the security log — and every sequence must come back equal; the restored copy must
then pass Django's own checks and accept new rows.

Slow (a database migrated from scratch and the demo seed): marked so, still run by `make test`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg2
import pytest
from django.conf import settings

from scripts.backup import compare, dump, restore, table_checksums

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("backup")]

ROOT = Path(__file__).resolve().parents[2]


def _server_url(database: str) -> str:
    db = settings.DATABASES["default"]
    user = db.get("USER") or "postgres"
    return f"postgres://{user}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{database}"


def _manage(url: str, *args: str) -> None:
    env = {**os.environ, "DATABASE_URL": url}
    env.pop("DATABASE_REPLICA_URL", None)
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stderr[-3000:]


def _drop(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = psycopg2.connect(_server_url("postgres"))
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


@pytest.fixture(scope="module")
def databases(tmp_path_factory):
    tag = uuid.uuid4().hex[:8]
    original, restored = _server_url(f"crm_backup_{tag}"), _server_url(f"crm_restore_{tag}")
    try:
        _manage(original, "ensure_database")
        _manage(original, "migrate", "--no-input", "-v", "0")
        _manage(original, "seed_demo")
        backup = tmp_path_factory.mktemp("backup") / "crm.dump"
        dump(original, str(backup))
        restore(str(backup), restored)
        yield original, restored
    finally:
        _drop(original)
        _drop(restored)


def test_every_table_and_sequence_comes_back_equal(databases):
    original, restored = databases
    assert compare(original, restored) == []


def test_the_backup_holds_records_history_and_rollups(databases):
    original, _ = databases
    tables = table_checksums(original)
    for table in (
        "contacts_company",
        "contacts_contact",
        "contacts_historicalcontact",
        "deals_deal",
        "deals_stagechange",
        "deals_historicaldeal",
        "activities_activity",
        "activities_timelineevent",
        "reports_funnelcell",
        "reports_customervalue",
    ):
        assert tables[table][0] > 0, f"{table} is empty: the drill would prove nothing"


def test_a_restored_database_is_a_working_crm(databases):
    _, restored = databases
    _manage(restored, "migrate", "--check")  # every migration is recorded as applied
    _manage(restored, "check", "--database", "default")
    # The sequences were restored: the next id is past every restored row's.
    with psycopg2.connect(restored) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT max(id) FROM contacts_company")
        highest = cursor.fetchone()[0]
        cursor.execute("SELECT nextval(pg_get_serial_sequence('contacts_company', 'id'))")
        assert cursor.fetchone()[0] > highest
