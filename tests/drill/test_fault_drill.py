"""The fault drill: the whole stack as real processes, a bounded load of what the browser
sends, and the faults a production CRM meets — then nothing acknowledged may be lost.

Stack (tests/drill/stack.py): a private PostgreSQL cluster (initdb, free port) and a private
``redis-server``; gunicorn with two workers, a Celery worker (prefork, two processes) and
beat, all under ``scripts/supervise.py`` exactly as ``make run`` runs them.

Load: three reps sign in and, from three threads for ``LOAD_SECONDS``, create contacts, log
tasks with a reminder due a few seconds later, and move their deals on the board (htmx
posts, with the stage they saw). A 30,000-row import runs meanwhile.

Faults, during the load: SIGKILL a gunicorn worker; SIGKILL the Celery worker (with its pool)
while it imports; SIGKILL and restart Redis (run as a broker should be, with an append-only
file synced on every write; ``crm/tests/test_broker.py`` restarts one without persistence);
restart PostgreSQL (immediate stop: every connection drops).

Then: every process is back (/healthz 200: database, Redis, a worker and beat's
heartbeat), every acknowledged write is in the database, every acknowledged stage move is
in the history, every reminder of an acknowledged task is sent exactly once, the import is
done with each row once and no job is left running, and the funnel rollup equals a raw
recount from the stage history both before and after a full rebuild.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import os
import random
import signal
import threading
import time

import pytest
from celery import Celery

from crm.tests.processes import PostgresCluster, wait_until
from tests.drill.stack import Browser, DrillStack, alive, children_of

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not PostgresCluster.available(), reason="needs PostgreSQL's initdb (apt-get install postgresql)"
    ),
]

LOAD_SECONDS = 60
REPS = ["alice", "bob", "carol"]
IMPORT_ROWS = 30_000


class Ledger:
    """What the server acknowledged, per kind."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.contacts: list[str] = []
        self.tasks: list[str] = []
        self.moves: list[tuple[int, int]] = []
        self.answers: collections.Counter = collections.Counter()

    def add(self, kind: str, value, status: int) -> None:
        with self.lock:
            self.answers[(kind, status)] += 1
            if value is not None:
                getattr(self, kind).append(value)


def _open_stages(stack: DrillStack) -> dict[int, list[int]]:
    stages: dict[int, list[int]] = collections.defaultdict(list)
    for pipeline_id, stage_id in stack.query(
        "SELECT pipeline_id, id FROM deals_stage WHERE NOT is_won AND NOT is_lost ORDER BY pipeline_id, position, id"
    ):
        stages[pipeline_id].append(stage_id)
    return stages


def _rep(stack: DrillStack, username: str, ledger: Ledger, stop: threading.Event, stages: dict) -> None:
    browser = Browser(stack.base_url)
    browser.sign_in(username)
    (user_id,) = stack.query("SELECT id FROM crm_user WHERE username = %s", (username,))[0]
    deals = [
        (pk, pipeline)
        for pk, pipeline in stack.query(
            "SELECT id, pipeline_id FROM deals_deal WHERE owner_id = %s AND status = 'open' ORDER BY id", (user_id,)
        )
        if len(stages[pipeline]) > 1
    ]
    rng = random.Random(username)
    i = 0
    while not stop.is_set():
        i += 1
        kind = ("contacts", "tasks", "moves")[i % 3]
        if kind == "contacts":
            name = f"Drill-{username}-{i}"
            status, _location, _body = browser.request(
                "/contacts/new/", {"first_name": "Dee", "last_name": name, "lifecycle_stage": "lead", "owner": user_id}
            )
            ledger.add(kind, name if status == 302 else None, status)
        elif kind == "tasks":
            subject = f"Drill task {username} {i}"
            due = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=20)).strftime("%Y-%m-%dT%H:%M:%S")
            status, location, _body = browser.request(
                "/activities/log/", {"type": "task", "subject": subject, "due_at": due, "remind": "0"}
            )
            ledger.add(kind, subject if status == 302 and "/activities/" in location else None, status)
        elif deals:
            deal_id, pipeline = rng.choice(deals)
            try:
                ((current,),) = stack.query("SELECT stage_id FROM deals_deal WHERE id = %s", (deal_id,))
            except Exception:  # noqa: BLE001 - PostgreSQL is restarting: try again later
                time.sleep(0.5)
                continue
            order = stages[pipeline]
            target = order[(order.index(current) + 1) % len(order)] if current in order else order[0]
            status, _location, _body = browser.request(
                f"/deals/{deal_id}/move/", {"stage": target, "expected_stage": current}, htmx=True
            )
            ledger.add(kind, (deal_id, target) if status == 200 else None, status)
        time.sleep(0.05)


def _start_import(stack: DrillStack) -> int:
    """A confirmed 30,000-row import (as import_confirm leaves it), sent to the worker."""
    rows = "".join(f"Imported{i},imp{i}@example.com\n" for i in range(IMPORT_ROWS))
    path = stack.base_dir / "import.csv"
    path.write_text("Last name,Email\n" + rows)
    code = (
        "from datetime import timedelta\n"
        "from django.utils import timezone\n"
        "from contacts import import_services\n"
        "from contacts.models import ImportState\n"
        "from crm.models import User\n"
        f"job = import_services.import_upload(actor=User.objects.get(username='alice'), kind='contacts',"
        f" file_name='import.csv', data=open({str(path)!r}, 'rb').read())\n"
        "job.options = {**job.options, 'match_key': 'email'}\n"
        "job.preview = {'created': 1}\n"
        "job.state = ImportState.PENDING\n"
        "job.lease_until = timezone.now() + timedelta(minutes=5)\n"
        "job.save()\n"
        "print(job.pk)\n"
    )
    job_id = int(stack.manage("shell", "-c", code).strip().splitlines()[-1])
    client = Celery("drill-client", broker=stack.redis.url)
    client.conf.task_serializer = "json"
    try:
        client.send_task("contacts.tasks.import_run", args=[job_id], queue="drill")
    finally:
        client.close()
    return job_id


def _import_state(stack: DrillStack, job_id: int) -> tuple[str, int]:
    try:
        return stack.query("SELECT state, progress FROM contacts_importjob WHERE id = %s", (job_id,))[0]
    except Exception:  # noqa: BLE001
        return ("unknown", 0)


def _funnel(stack: DrillStack) -> collections.Counter:
    """Deals that entered each stage, as the funnel's rollup has it."""
    return collections.Counter(
        dict(
            stack.query(
                "SELECT f.stage_id, COUNT(*) FROM reports_stagefact f JOIN reports_rolluppointer p"
                " ON p.generation_id = f.generation_id GROUP BY f.stage_id"
            )
        )
    )


def _raw_funnel(stack: DrillStack) -> collections.Counter:
    """The same, recounted here from the raw stage history by the funnel's definition (README
    "Report definitions"): the funnel of a pipeline is its stages but the lost ones, by
    position; a deal's first change enters its stage, a forward move enters every stage up to
    the new one, a backward move enters its own; each stage counts once per deal."""
    funnel: dict[int, list[int]] = collections.defaultdict(list)
    for stage_id, pipeline_id in stack.query(
        "SELECT id, pipeline_id FROM deals_stage WHERE NOT is_lost ORDER BY pipeline_id, position, id"
    ):
        funnel[pipeline_id].append(stage_id)
    rank = {stage_id: (pipeline_id, i) for pipeline_id, ids in funnel.items() for i, stage_id in enumerate(ids)}
    pipelines = dict(stack.query("SELECT id, pipeline_id FROM deals_deal"))
    entered: set[tuple[int, int]] = set()
    previous: dict[int, int] = {}
    for deal_id, stage_id in stack.query("SELECT deal_id, to_stage_id FROM deals_stagechange ORDER BY deal_id, at, id"):
        pipeline_id, r = rank.get(stage_id, (None, None))
        if pipeline_id is None or pipeline_id != pipelines.get(deal_id):
            continue  # a lost stage or another pipeline's: enters nothing
        before = previous.get(deal_id)
        ranks = range(before + 1, r + 1) if before is not None and before < r else [r]
        entered.update((deal_id, funnel[pipeline_id][i]) for i in ranks)
        previous[deal_id] = r
    return collections.Counter(stage_id for _deal, stage_id in entered)


def test_the_crm_loses_nothing_it_acknowledged_through_kills_and_restarts(tmp_path):
    stack = DrillStack(tmp_path)
    ledger = Ledger()
    t0 = time.monotonic()

    def phase(name: str) -> None:
        print(f"drill: {name} at {time.monotonic() - t0:.0f} s", flush=True)

    stop = threading.Event()
    threads: list[threading.Thread] = []
    try:
        stack.setup()
        phase("set up")
        stack.start()
        phase("started")
        stages = _open_stages(stack)
        funnel_at_start = _funnel(stack)
        job_id = _start_import(stack)
        threads = [threading.Thread(target=_rep, args=(stack, rep, ledger, stop, stages)) for rep in REPS]
        for thread in threads:
            thread.start()
        started = time.monotonic()

        # 1. A gunicorn worker dies; the master starts another.
        time.sleep(5)
        web = stack.pid_of("web")
        victims = children_of(web)
        assert victims, "gunicorn has no workers"
        os.kill(victims[0], signal.SIGKILL)

        # 2. The Celery worker (with its pool) is killed while it imports; the supervisor
        #    restarts it and the import's sweep gives the job to the new one.
        wait_until(
            lambda: _import_state(stack, job_id)[0] == "running" and _import_state(stack, job_id)[1] >= 5,
            timeout=60,
            interval=0.2,
            what="the import to be under way",
        )
        worker = stack.pid_of("worker")
        os.killpg(worker, signal.SIGKILL)
        wait_until(lambda: stack.pid_of("worker") != worker, timeout=30, what="the supervisor to restart the worker")

        # 3. Redis crashes (SIGKILL) and restarts from its append-only file.
        time.sleep(max(0.0, 25 - (time.monotonic() - started)))
        stack.redis.restart(down_for=3)

        # 4. PostgreSQL restarts: every connection of every process drops.
        time.sleep(max(0.0, 40 - (time.monotonic() - started)))
        stack.postgres.restart(down_for=3)

        time.sleep(max(0.0, LOAD_SECONDS - (time.monotonic() - started)))
        stop.set()
        for thread in threads:
            thread.join(timeout=60)

        phase("load over")
        # No process died for good: the web answers, a worker and beat work again.
        wait_until(lambda: stack.healthz()[0] == 200, timeout=120, interval=1, what="/healthz 200 after the faults")
        assert alive(stack.pid_of("web")) and alive(stack.pid_of("worker")) and alive(stack.pid_of("beat"))
        assert len(children_of(stack.pid_of("web"))) == 2  # gunicorn replaced its killed worker

        phase("healthy")
        # The import finished, each row once, and no job is left running.
        wait_until(lambda: _import_state(stack, job_id)[0] == "done", timeout=180, interval=1, what="the import")
        assert stack.query("SELECT COUNT(*), COUNT(DISTINCT email) FROM contacts_contact WHERE email LIKE 'imp%%'")[
            0
        ] == (IMPORT_ROWS, IMPORT_ROWS)
        assert stack.query(
            "SELECT COUNT(*) FROM contacts_importjob WHERE state IN ('analysing', 'pending', 'running')"
        ) == [(0,)]

        # Every acknowledged write is there.
        assert ledger.contacts and ledger.tasks and ledger.moves, ledger.answers
        saved = {
            name for (name,) in stack.query("SELECT last_name FROM contacts_contact WHERE last_name LIKE 'Drill-%%'")
        }
        assert set(ledger.contacts) <= saved
        logged = {
            s for (s,) in stack.query("SELECT subject FROM activities_activity WHERE subject LIKE 'Drill task%%'")
        }
        assert set(ledger.tasks) <= logged

        # Every acknowledged stage move is in the history (as many times as it was made).
        history = collections.Counter(stack.query("SELECT deal_id, to_stage_id FROM deals_stagechange"))
        acknowledged = collections.Counter(ledger.moves)
        assert not [move for move, n in acknowledged.items() if history[move] < n]

        # Every reminder of an acknowledged task is sent, and notified exactly once.
        def unsent() -> int:
            return stack.query(
                "SELECT COUNT(*) FROM activities_reminder r JOIN activities_activity a ON a.id = r.activity_id"
                " WHERE a.subject = ANY(%s) AND r.state <> 'sent'",
                (ledger.tasks,),
            )[0][0]

        wait_until(lambda: unsent() == 0, timeout=180, interval=2, what="every reminder to be sent")
        phase("reminders sent")
        reminders = [pk for (pk,) in stack.query(
            "SELECT r.id FROM activities_reminder r JOIN activities_activity a ON a.id = r.activity_id"
            " WHERE a.subject = ANY(%s)",
            (ledger.tasks,),
        )]  # fmt: skip
        assert len(reminders) == len(ledger.tasks)
        notified = collections.Counter(
            key for (key,) in stack.query("SELECT dedupe_key FROM crm_notification WHERE dedupe_key LIKE 'reminder:%%'")
        )
        assert [notified[f"reminder:{pk}"] for pk in reminders] == [1] * len(reminders)

        # The funnel rollup equals a raw recount, before and after a full rebuild.
        # NOTE: the "before" comparison needs every stage move's rollup refresh to reach a
        # worker. While it is enqueued with transaction.on_commit(task.delay), a move saved
        # while Redis is down loses its refresh (until the nightly rebuild); the
        # transactional outbox (issue #25, feat/concurrency) is what makes this hold.
        raw = _raw_funnel(stack)
        assert sum(raw.values()) > sum(funnel_at_start.values())
        # Refreshes still in the queue get a moment; the comparison follows the rebuild's own.
        with contextlib.suppress(AssertionError):
            wait_until(lambda: _funnel(stack) == _raw_funnel(stack), timeout=30, interval=2, what="rollup refreshes")
        incremental, raw = _funnel(stack), _raw_funnel(stack)
        phase("checked")
        stack.manage("rebuild_rollups")
        assert _funnel(stack) == _raw_funnel(stack), "the full rebuild differs from the raw recount"
        assert incremental == raw, (
            "the incrementally refreshed funnel differs from the raw recount: a refresh enqueued with"
            " transaction.on_commit(task.delay) was lost while Redis was down (the outbox fixes this)",
            {stage: (incremental[stage], raw[stage]) for stage in raw if incremental[stage] != raw[stage]},
        )
        phase("done")
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        stack.stop()
