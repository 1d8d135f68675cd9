import pytest


@pytest.fixture
def tasks_run_in_process():
    """``.delay()`` runs the task at once in the test's process (Celery's eager mode), for
    tests that check what a task does after a request queued it."""
    from crm.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False
