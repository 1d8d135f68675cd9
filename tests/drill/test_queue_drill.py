"""Queues per kind of work, for real: while a 100,000-row import and a full rollup rebuild
keep the bulk worker busy, a reminder due now still reaches the rep's bell within 60 s.

The stack is the fault drill's (private PostgreSQL and Redis, gunicorn, beat, supervise.py)
with the workers `make run` starts: one on the default queue, one on imports + rollups, one on
integrations (Procfile). The bulk worker has a single process, so the import and the rebuild
queue behind each other — as they would behind a reminder if everything shared one queue.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest

from crm.tests.processes import wait_until
from tests.drill.stack import Browser, DrillStack

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("drill")]

IMPORT_ROWS = 100_000
BELL_WITHIN = 60.0


def _enqueue_bulk_work(stack: DrillStack) -> int:
    """A confirmed 100k-row import and a full rollup rebuild, sent the way the app sends them
    (the outbox, routed by CELERY_TASK_ROUTES); returns the import job's id."""
    rows = "".join(f"Bulk{i},bulk{i}@example.com\n" for i in range(IMPORT_ROWS))
    path = stack.base_dir / "bulk.csv"
    path.write_text("Last name,Email\n" + rows)
    code = (
        "from datetime import timedelta\n"
        "from django.db import transaction\n"
        "from django.utils import timezone\n"
        "from contacts import import_services\n"
        "from contacts.models import ImportState\n"
        "from crm.models import User\n"
        "from crm.services import outbox_enqueue\n"
        f"job = import_services.import_upload(actor=User.objects.get(username='alice'), kind='contacts',"
        f" file_name='bulk.csv', data=open({str(path)!r}, 'rb').read())\n"
        "job.options = {**job.options, 'match_key': 'email'}\n"
        "job.preview = {'created': 1}\n"
        "job.state = ImportState.PENDING\n"
        "job.lease_until = timezone.now() + timedelta(minutes=10)\n"
        "job.save()\n"
        "with transaction.atomic():\n"
        "    outbox_enqueue(task='contacts.tasks.import_run', args=[job.pk])\n"
        "    outbox_enqueue(task='reports.tasks.rebuild_rollups')\n"
        "print(job.pk)\n"
    )
    return int(stack.manage("shell", "-c", code).strip().splitlines()[-1])


def test_a_reminder_reaches_the_bell_while_an_import_and_a_rebuild_run(tmp_path):
    stack = DrillStack(tmp_path)
    try:
        stack.setup()
        stack.start(
            workers={
                "worker": "--concurrency=1 -Q drill",
                "worker-bulk": "--concurrency=1 -Q drill.imports,drill.rollups",
                "worker-integrations": "--concurrency=1 -Q drill.integrations",
            }
        )
        browser = Browser(stack.base_url)
        browser.sign_in("alice")
        job_id = _enqueue_bulk_work(stack)
        wait_until(
            lambda: stack.query("SELECT state FROM contacts_importjob WHERE id = %s", (job_id,))[0][0] == "running",
            timeout=120,
            interval=0.5,
            what="the import to be running on the bulk worker",
        )

        due = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
        status, location, _body = browser.request(
            "/activities/log/", {"type": "task", "subject": "Call back now", "due_at": due, "remind": "0"}
        )
        assert status == 302 and "/activities/" in location
        asked = time.monotonic()

        def rung() -> bool:
            return bool(
                stack.query(
                    "SELECT 1 FROM crm_notification n"
                    " JOIN activities_reminder r ON n.dedupe_key = 'reminder:' || r.id"
                    " JOIN activities_activity a ON a.id = r.activity_id"
                    " JOIN crm_user u ON u.id = n.user_id"
                    " WHERE u.username = 'alice' AND a.subject = 'Call back now'"
                )
            )

        wait_until(rung, timeout=BELL_WITHIN + 30, interval=0.5, what="the reminder to reach the bell")
        took = time.monotonic() - asked
        state, progress = stack.query("SELECT state, progress FROM contacts_importjob WHERE id = %s", (job_id,))[0]

        print(f"queue drill: the bell rang after {took:.1f} s; the import was {state} at {progress} %")
        assert took < BELL_WITHIN, f"the reminder took {took:.1f} s"
        # The bulk worker was still busy: without queues the reminder would have waited behind it.
        assert state == "running", f"the import was {state} ({progress}) when the bell rang"
    finally:
        stack.stop()
