"""`make audit` (scripts/audit.py) reads pip-audit's JSON report: a known vulnerability always
fails; a lookup that could not happen fails only where an audit is required (AUDIT_REQUIRED=1)."""

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("audit_script", ROOT / "scripts" / "audit.py")
audit = importlib.util.module_from_spec(spec)
sys.modules["audit_script"] = audit  # dataclasses look their module up while the class is made
spec.loader.exec_module(audit)

# The shape of `pip-audit --format json` (pip-audit 2.10).
VULNERABLE = {
    "dependencies": [
        {
            "name": "django",
            "version": "5.2.0",
            "vulns": [
                {"id": "PYSEC-2025-1", "fix_versions": ["5.2.1"], "aliases": ["CVE-2025-0001"], "description": "x"}
            ],
        },
        {"name": "celery", "version": "5.7.0", "vulns": []},
    ],
    "fixes": [],
}
CLEAN = {"dependencies": [{"name": "django", "version": "5.2.19", "vulns": []}], "fixes": []}
OFFLINE = {
    "dependencies": [
        {"name": "django", "skip_reason": "Dependency not found on PyPI and could not be audited: django (5.2.19)"}
    ],
    "fixes": [],
}


@pytest.mark.parametrize("required", [False, True])
def test_a_known_vulnerability_fails_everywhere(required):
    status, message = audit.verdict(audit.read_report(VULNERABLE), required=required)

    assert status == 1
    assert "django 5.2.0: PYSEC-2025-1 (CVE-2025-0001); fixed in 5.2.1" in message


def test_a_clean_report_passes():
    status, message = audit.verdict(audit.read_report(CLEAN), required=True)

    assert status == 0
    assert "no known vulnerabilities in 1 packages" in message


def test_an_unreachable_service_is_not_a_pass_in_ci():
    status, message = audit.verdict(audit.read_report(OFFLINE), required=True)

    assert status == 1
    assert "NOT AUDITED" in message


def test_an_unreachable_service_warns_on_an_offline_machine():
    status, message = audit.verdict(audit.read_report(OFFLINE), required=False)

    assert status == 0
    assert "NOT AUDITED" in message


def test_pip_audit_crashing_counts_as_not_audited():
    status, message = audit.verdict(audit.Outcome(error="pip-audit stopped: ConnectionError"), required=True)

    assert status == 1
    assert "ConnectionError" in message


def test_the_virtualenvs_own_tools_are_left_out_of_the_pins():
    pins = audit._installed_pins().splitlines()

    names = {audit._name(line) for line in pins}
    assert "django" in names and "pip-audit" in names
    assert not names & {"pip", "setuptools"}
