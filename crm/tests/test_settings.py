"""A bad environment value stops start-up with a message naming the variable."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load_settings(**env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "import crm.settings"],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DEBUG": "maybe"}, "DEBUG must be one of"),
        ({"EMAIL_PORT": "twenty-five"}, "EMAIL_PORT must be a whole number"),
        ({"DATABASE_URL": "sqlite:///x.db"}, "DATABASE_URL must be a postgres:// URL"),
        ({"BASE_CURRENCY": "dollars"}, "BASE_CURRENCY must be a three-letter"),
        ({"TIME_ZONE": "Mars/Olympus"}, "TIME_ZONE has an unknown value"),
        ({"DEBUG": "0", "SECRET_KEY": ""}, "SECRET_KEY must be set when DEBUG is off"),
        ({"DEBUG": "0", "SECRET_KEY": "x" * 50, "ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS must be set"),
        ({"JOB_LEASE_SECONDS": "10", "JOB_HEARTBEAT_SECONDS": "6"}, "JOB_HEARTBEAT_SECONDS must be at most half"),
        ({"JOB_MAX_ATTEMPTS": "0"}, "JOB_MAX_ATTEMPTS must be at least 1"),
    ],
)
def test_a_bad_value_names_the_variable(env, message):
    result = _load_settings(**env)
    assert result.returncode != 0
    assert message in result.stderr


def test_good_values_load(tmp_path):
    result = _load_settings(DEBUG="0", SECRET_KEY="x" * 50, ALLOWED_HOSTS="crm.example.com")
    assert result.returncode == 0, result.stderr


def _conn_max_age(**env: str) -> str:
    env = {
        k: v for k, v in {**os.environ, **env}.items() if k != "DATABASE_CONN_MAX_AGE" or "DATABASE_CONN_MAX_AGE" in env
    }
    result = subprocess.run(
        [sys.executable, "-c", "from crm import settings; print(settings.DATABASES['default']['CONN_MAX_AGE'])"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_database_connections_are_not_kept_by_default():
    """runserver opens a thread per request and never closes a kept connection (make run)."""
    assert _conn_max_age() == "0"
    assert _conn_max_age(DATABASE_CONN_MAX_AGE="60") == "60"
