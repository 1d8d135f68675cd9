"""The read replica, for real: a private primary and a streaming replica on loopback ports
(scripts/pg_replica.py), and the CRM run against both in its own process (probe.py).

Slow (a cluster, a base backup and every migration): marked so, and still run by `make test`.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from scripts.pg_replica import Cluster, start, stop

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("replica")]

PROBE = Path(__file__).with_name("probe.py")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def observed():
    """What the probe saw; the cluster is gone when the module ends."""
    # Not pytest's tmp_path: its folders are private to root, and the clusters run as postgres.
    root = Path(tempfile.mkdtemp(prefix="crm-replica-"))
    root.chmod(0o755)
    cluster = Cluster(root / "pg", _free_port(), _free_port())
    try:
        start(cluster)
        env = {
            **os.environ,
            "DATABASE_URL": cluster.url("primary", "crm_replica_drill"),
            "DATABASE_REPLICA_URL": cluster.url("replica", "crm_replica_drill"),
        }
        subprocess.run(
            ["psql", cluster.url("primary", "postgres"), "-qc", "CREATE DATABASE crm_replica_drill"],
            check=True,
            capture_output=True,
        )
        result = subprocess.run(
            [sys.executable, str(PROBE), str(cluster.root), str(cluster.primary_port), str(cluster.replica_port)],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, result.stderr[-4000:]
        return json.loads(result.stdout.strip().splitlines()[-1])
    finally:
        stop(cluster, missing_ok=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.parametrize("page", ["companies", "funnel", "deals"])
def test_lists_and_reports_read_the_replica_and_leave_the_primary_idle(observed, page):
    seen = observed[f"quiet_{page}"]
    assert seen["status"] == 200
    assert seen["app_reads"]["replica"] > 0
    assert seen["app_reads"]["default"] == 0
    assert not seen["data_as_of"]


def test_writes_go_to_the_primary_and_never_reach_the_replica(observed):
    assert observed["create_status"] == 302
    assert observed["create_writes"]["default"] > 0
    assert observed["create_writes"]["replica"] == 0
    assert observed["replica_writes"] == []
    assert observed["replica_statements"] > 0


def test_the_writer_reads_the_primary_until_the_replica_has_replayed_her_write(observed):
    mine = observed["writer_after_write"]
    assert mine["shows"] is True
    assert mine["app_reads"]["default"] > 0 and mine["app_reads"]["replica"] == 0

    caught_up = observed["ann_after_replay"]
    assert caught_up["shows"] is True
    assert caught_up["app_reads"]["replica"] > 0 and caught_up["app_reads"]["default"] == 0


def test_a_lagging_replica_is_read_with_a_data_as_of_notice(observed):
    theirs = observed["reader_while_paused"]
    assert theirs["status"] == 200
    assert theirs["shows"] is False
    assert theirs["app_reads"]["replica"] > 0
    assert theirs["data_as_of"] is True

    after = observed["ben_after_replay"]
    assert after["shows"] is True and after["data_as_of"] is False


@pytest.mark.parametrize("step", ["replica_stopped_mid_page", "replica_stopped_next_page"])
def test_a_stopped_replica_falls_back_to_the_primary_with_a_warning(observed, step):
    seen = observed[step]
    assert seen["status"] == 200
    assert seen["shows"] is True
    assert seen["app_reads"]["default"] > 0
    assert any("replica" in message for message in observed["warnings"])
