import uuid

import pytest

from crm import security


@pytest.fixture(autouse=True)
def own_rate_limit_counters(monkeypatch):
    """Request counters (password reset) live in the real cache, which outlives a test and is
    shared by parallel test processes: each test counts under a namespace of its own."""
    monkeypatch.setattr(security, "RATE_LIMIT_NAMESPACE", f"{uuid.uuid4().hex}:")


@pytest.fixture
def tasks_run_in_process():
    """``.delay()`` runs the task at once in the test's process (Celery's eager mode), for
    tests that check what a task does after a request queued it."""
    from crm.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False
