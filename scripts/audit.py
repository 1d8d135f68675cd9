"""`make audit`: known vulnerabilities in the installed, pinned dependencies (pip-audit).

What is audited: every package installed in .venv from requirements.txt and
requirements-dev.txt, with its transitive dependencies, at the exact installed version
(``pip freeze``), except pip and setuptools, which come with the virtualenv itself and are
no dependency of the CRM. pip-audit looks each one up in PyPI's vulnerability data.

The outcome:
- a known vulnerability → exit 1, listing each one with the versions that fix it;
- everything looked up, nothing found → exit 0;
- the vulnerability service could not be asked (no network, a PyPI mirror without the JSON
  API) → "NOT AUDITED" in capitals and exit 0, so an offline machine (this project's own CI
  runs on one) can still run `make test`; exit 1 with ``AUDIT_REQUIRED=1``, for a pipeline
  that can reach the vulnerability data and where an audit that did not run must not pass.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# The virtualenv's own installer tooling, not dependencies of the CRM.
NOT_PROJECT = {"pip", "setuptools", "wheel"}
TRUE = {"1", "true", "yes", "on"}


@dataclass
class Outcome:
    vulnerabilities: list[str] = field(default_factory=list)
    unaudited: list[str] = field(default_factory=list)
    audited: int = 0
    error: str = ""


def read_report(report: dict) -> Outcome:
    """What a pip-audit JSON report says: the vulnerabilities, and which packages could not be
    looked up (pip-audit lists those as skipped and still says "no known vulnerabilities")."""
    outcome = Outcome()
    for dependency in report.get("dependencies", []):
        name = f"{dependency.get('name')} {dependency.get('version', '')}".strip()
        if dependency.get("skip_reason"):
            outcome.unaudited.append(f"{name}: {dependency['skip_reason']}")
            continue
        outcome.audited += 1
        for vuln in dependency.get("vulns", []):
            fixed = ", ".join(vuln.get("fix_versions") or []) or "no fixed version yet"
            aliases = ", ".join(vuln.get("aliases") or [])
            outcome.vulnerabilities.append(
                f"{name}: {vuln.get('id')}{f' ({aliases})' if aliases else ''}; fixed in {fixed}"
            )
    return outcome


def verdict(outcome: Outcome, *, required: bool) -> tuple[int, str]:
    """The exit status and the message for an audit's outcome."""
    if outcome.vulnerabilities:
        lines = "\n  ".join(outcome.vulnerabilities)
        return 1, f"pip-audit: {len(outcome.vulnerabilities)} known vulnerabilities:\n  {lines}\nUpgrade the pins."
    if outcome.error or outcome.unaudited:
        what = outcome.error or f"{len(outcome.unaudited)} packages could not be looked up, e.g. {outcome.unaudited[0]}"
        message = (
            f"pip-audit: NOT AUDITED: the vulnerability service could not be asked ({what}). "
            "Run `make audit` on a machine that reaches https://pypi.org/pypi/<name>/<version>/json."
        )
        if required:
            return 1, message + " An audit is required here (AUDIT_REQUIRED=1), so this fails."
        return 0, message + " Not failing: this machine is offline or behind a mirror (set AUDIT_REQUIRED=1 to fail)."
    return 0, f"pip-audit: no known vulnerabilities in {outcome.audited} packages."


def _name(pin: str) -> str:
    """A requirement's normalised project name (PEP 503): "Pip_Audit==2.10.1" → "pip-audit"."""
    return re.sub(r"[-_.]+", "-", pin.split("==")[0]).strip().lower()


def _installed_pins() -> str:
    frozen = subprocess.run(  # noqa: S603 (fixed arguments: this interpreter's pip)
        [str(BIN / "python"), "-m", "pip", "freeze", "--exclude-editable"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    keep = [line for line in frozen.splitlines() if _name(line) not in NOT_PROJECT]
    return "\n".join(keep) + "\n"


def run_audit() -> Outcome:
    with tempfile.TemporaryDirectory() as folder:
        pins = Path(folder) / "installed.txt"
        pins.write_text(_installed_pins())
        report_path = Path(folder) / "report.json"
        try:
            result = subprocess.run(  # noqa: S603 (fixed arguments: the pinned pip-audit)
                [
                    str(BIN / "pip-audit"),
                    "--requirement",
                    str(pins),
                    "--no-deps",
                    "--disable-pip",
                    "--format",
                    "json",
                    "--output",
                    str(report_path),
                    "--progress-spinner",
                    "off",
                    "--timeout",
                    "20",
                ],
                capture_output=True,
                text=True,
                timeout=600,
                cwd=ROOT,
            )
        except subprocess.TimeoutExpired:
            return Outcome(error="pip-audit did not answer within 10 minutes")
        if not report_path.exists():
            tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
            return Outcome(error=f"pip-audit stopped: {tail[0][:300]}")
        return read_report(json.loads(report_path.read_text()))


def main() -> int:
    required = os.environ.get("AUDIT_REQUIRED", "").lower() in TRUE
    status, message = verdict(run_audit(), required=required)
    print(message, file=sys.stderr if status else sys.stdout)
    return status


if __name__ == "__main__":
    sys.exit(main())
