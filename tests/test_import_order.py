"""The import order of ARCHITECTURE.md: crm ← contacts ← deals ← activities ← service ←
campaigns ← reports ← integrations. A lower app never imports a higher one (not even inside a
function), and product code never imports the benchmark."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ORDER = ["crm", "contacts", "deals", "activities", "service", "campaigns", "reports", "integrations"]
FORBIDDEN_EVERYWHERE = {"bench"}
# crm is also the project package: its URLconf, settings and Celery app wire every app together.
PROJECT_FILES = {"crm/urls.py", "crm/settings.py", "crm/celery.py", "crm/wsgi.py", "crm/asgi.py"}


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def _sources(app: str) -> list[Path]:
    return [
        p
        for p in (ROOT / app).rglob("*.py")
        if "tests" not in p.relative_to(ROOT).parts and str(p.relative_to(ROOT)) not in PROJECT_FILES
    ]


@pytest.mark.parametrize("app", ORDER)
def test_an_app_imports_only_apps_below_it(app):
    rank = ORDER.index(app)
    higher = set(ORDER[rank + 1 :]) | FORBIDDEN_EVERYWHERE
    offenders = sorted(
        f"{path.relative_to(ROOT)} imports {name}" for path in _sources(app) for name in _imports(path) & higher
    )
    assert offenders == []
