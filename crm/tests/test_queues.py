"""Each kind of background work goes to its own queue (settings.CELERY_TASK_ROUTES); the drill
in tests/drill/test_queue_drill.py shows what that buys with real workers."""

import pytest
from django.conf import settings

from crm.celery import app


def _queue_of(task_name: str) -> str:
    return app.amqp.router.route({}, task_name)["queue"].name


@pytest.mark.parametrize(
    ("task", "kind"),
    [
        ("activities.tasks.reminder_sweep", ""),
        ("activities.tasks.daily_digest", ""),
        ("crm.tasks.outbox_relay", ""),
        ("crm.tasks.heartbeat", ""),
        ("crm.tasks.send_password_reset", ""),
        ("contacts.tasks.import_sweep", ""),
        ("contacts.tasks.import_analyse", "imports"),
        ("contacts.tasks.import_run", "imports"),
        ("contacts.tasks.refresh_duplicates", "imports"),
        ("reports.tasks.rebuild_rollups", "rollups"),
        ("reports.tasks.refresh_deal_rollups", "rollups"),
        ("reports.tasks.recompute_customer_value", "rollups"),
        ("integrations.tasks.any_delivery", "integrations"),
    ],
)
def test_each_kind_of_work_is_routed_to_its_queue(task, kind):
    base = settings.CELERY_TASK_DEFAULT_QUEUE
    assert _queue_of(task) == (f"{base}.{kind}" if kind else base)


def test_every_routed_task_names_a_real_task():
    app.loader.import_default_modules()
    names = set(app.tasks)
    for pattern in settings.CELERY_TASK_ROUTES:
        if not pattern.endswith("*"):
            assert pattern in names, f"{pattern} is routed but no such task exists"


def test_a_worker_without_q_consumes_every_queue():
    """Development and test workers start without -Q: they must still run every kind of task."""
    declared = {queue.name for queue in app.conf.task_queues}
    assert declared == set(settings.CELERY_QUEUE_NAMES.values())
    assert len(declared) == 4


def test_make_run_starts_a_worker_per_kind_of_work():
    from pathlib import Path

    procfile = (Path(settings.BASE_DIR) / "Procfile").read_text()
    workers = [line for line in procfile.splitlines() if " worker " in line]
    consumed = [line.split(" -Q ", 1)[1].split()[0] for line in workers]
    assert consumed == [
        "${CELERY_QUEUE:-celery}",
        "${CELERY_QUEUE:-celery}.imports,${CELERY_QUEUE:-celery}.rollups",
        "${CELERY_QUEUE:-celery}.integrations",
    ]
