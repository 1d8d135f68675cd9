import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from crm import security
from crm.models import Notification
from crm.tests.factories import UserFactory


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


@pytest.fixture
def people(db):
    """Ann with three unread notifications, Bob with one, a minute apart before ``now``: the
    rows the compiled-query and prepared-statement tests read (``test_compiled.unread_of``)."""
    now = timezone.now()
    ann, bob = UserFactory(username="ann"), UserFactory(username="bob")
    for person, texts in ((ann, ["a1", "a2", "a3"]), (bob, ["b1"])):
        for n, text in enumerate(texts):
            Notification.objects.create(user=person, text=text, created_at=now - timedelta(minutes=n + 1))
    return ann, bob, now
