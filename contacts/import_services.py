"""Imports of companies and contacts: upload, mapping, dry run, and the all-or-nothing write.

The life of an ``ImportJob``: ``import_upload`` reads the file once (encoding, delimiter,
header, row count, sample values) and guesses the mapping → ``import_configure`` stores the
user's mapping and options and queues the dry run → ``import_analyse`` (Celery) plans every
row without writing and stores the preview → ``import_confirm`` queues the run →
``import_execute`` (Celery) plans again (the data may have changed since the preview) and
writes everything in ONE transaction: all rows or, on any error, none.

Matching happens only among active records the importing user can see. A row that matches
a record the user may change updates it according to the mode; a row that matches a record
the user may only read is rejected (with the record named — they can see it anyway); records
the user cannot see do not exist for the import, as everywhere else in the CRM.
"""

from __future__ import annotations

import gc
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import Model, Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from contacts.duplicates import RowMatch, contact_import_matches
from contacts.imports import (
    ImportFileError,
    MatchMode,
    RowError,
    RowValues,
    apply_mapping,
    clean_row,
    guess_mapping,
    match_keys_for,
    read_table,
    targets_for,
)
from contacts.models import Company, Contact, ImportJob, ImportKind, ImportRowError, ImportState, Source
from contacts.services import CONTACT_ADDRESS_FROM_COMPANY, tags_get_or_create
from contacts.signals import customer_events
from crm import custom_fields
from crm.bulk import copy_history, copy_instances, copy_update
from crm.models import SecurityEventKind, User, users_visible_to
from crm.security import security_event_record
from crm.services import outbox_enqueue

log = logging.getLogger(__name__)

BATCH_SIZE = 2000
# Rows per COPY; each batch is also a point where a paced import may pause (Pacer).
COPY_BATCH = 5000
SAMPLE_SIZE = 10
DUPLICATES_SHOWN = 200  # likely duplicates listed on the preview, each with its own choice
LOOKUP_CHUNK = 5000


# --- Upload and configuration -------------------------------------------------------------


def safe_file_name(name: str) -> str:
    """The uploaded file's name as shown on pages and in download names: its last path part,
    without control characters or quotes, at most 120 characters. It is never used as a
    path: the file itself is kept in the database."""
    base = re.split(r"[\\/]", name)[-1]
    base = "".join(ch for ch in base if ch.isprintable() and ch not in '"<>|*?:;')
    base = " ".join(base.split()).lstrip(".")
    return base[-120:] or "import"


def _scan(data: bytes, file_name: str, kind: str, *, encoding: str = "") -> dict[str, Any]:
    """Read the file once: header, row count, a few samples per column and a guessed mapping."""
    table = read_table(data, file_name, encoding=encoding)
    if not any(table.headers):
        raise ImportFileError(_("The first row of the file must name the columns."))
    samples: list[list[str]] = [[] for _header in table.headers]
    total = 0
    for _line, cells in table.rows:
        total += 1
        if total > settings.IMPORT_MAX_ROWS:
            raise ImportFileError(
                ngettext(
                    "The file has more than %(max)s row; split it into smaller files.",
                    "The file has more than %(max)s rows; split it into smaller files.",
                    settings.IMPORT_MAX_ROWS,
                )
                % {"max": f"{settings.IMPORT_MAX_ROWS:,}"}
            )
        for index, cell in enumerate(cells[: len(samples)]):
            if cell and len(samples[index]) < 3 and cell not in samples[index]:
                samples[index].append(cell[:80])
    if total == 0:
        raise ImportFileError(_("The file has a header but no rows."))
    headers = [header[:200] or _("Column %(n)d") % {"n": i + 1} for i, header in enumerate(table.headers)]
    return {
        "encoding": table.encoding,
        "delimiter": table.delimiter,
        "headers": headers,
        "samples": samples,
        "total_rows": total,
        "mapping": guess_mapping(table.headers, kind),
    }


def import_upload(*, actor: User, kind: str, file_name: str, data: bytes) -> ImportJob:
    """Read the uploaded file once and keep it with its header, samples and a guessed mapping.

    Raises ``ImportFileError`` (shown on the form) for a file that is not a table (sniffed
    from its bytes), is unreadable, empty, too long, too wide or unpacks too large; nothing
    is stored then.
    """
    scan = _scan(data, file_name, kind)
    return ImportJob.objects.create(
        owner=actor,
        kind=kind,
        file_name=safe_file_name(file_name),
        file_data=data,
        file_size=len(data),
        options={"match_key": match_keys_for(kind)[0][0], "mode": "fill", "keep_invalid_phones": False},
        **scan,
    )


@transaction.atomic
def import_reread(*, job: ImportJob, encoding: str) -> ImportJob:
    """Read a CSV job's file again in the ``encoding`` the user chose (the guess was wrong):
    header, samples and the guessed mapping are redone and the job waits for its mapping.

    Raises ``ImportFileError`` when the file does not read as a table in that encoding; the
    job is left as it was."""
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    scan = _scan(bytes(job.file_data), job.file_name, job.kind, encoding=encoding)
    for name, value in scan.items():
        setattr(job, name, value)
    job.state = ImportState.DRAFT
    job.preview = {}
    job.error = ""
    job.rejected_count = 0
    job.save(update_fields=[*scan, "state", "preview", "error", "rejected_count"])
    ImportRowError.objects.filter(job=job).delete()
    return job


@transaction.atomic
def import_configure(*, job: ImportJob, mapping: dict[str, str], options: dict[str, Any]) -> ImportJob:
    """Store the mapping and options and queue the dry run (through the outbox)."""
    from contacts import tasks

    job.mapping = mapping
    job.options = options
    job.state = ImportState.ANALYSING
    job.preview = {}
    job.error = ""
    job.progress = 0
    job.attempts = 0
    job.lease_until = _queued_lease()
    job.save(update_fields=["mapping", "options", "state", "preview", "error", "progress", "attempts", "lease_until"])
    # Idempotent: the dry run acts only on a job still being analysed.
    outbox_enqueue(task=tasks.import_analyse.name, args=[job.pk])
    return job


@transaction.atomic
def import_confirm(
    *,
    job: ImportJob,
    duplicate_choices: dict[int, str] | None = None,
    duplicate_default: str | None = None,
) -> ImportJob:
    """The user accepted the preview: queue the real import (through the outbox).

    ``duplicate_choices``: line → skip / update / create for likely duplicates the preview
    listed (a choice holds for the record the preview showed; if the row matches another one
    by the time the import runs, the default applies); ``duplicate_default``: what the
    confident matches not chosen one by one do (skip when not given).
    """
    from contacts import tasks

    job = ImportJob.objects.without_file().select_for_update().get(pk=job.pk)
    if job.state != ImportState.PREVIEW:
        return job
    options = dict(job.options or {})
    if duplicate_default in DuplicateAction.ALL:
        options["duplicate_default"] = duplicate_default
    if duplicate_choices:
        records = {row["line"]: row["record_id"] for row in (job.preview or {}).get("duplicate_rows", [])}
        options["duplicate_choices"] = {
            str(line): {"action": action, "record": records[line]}
            for line, action in duplicate_choices.items()
            if line in records and action in DuplicateAction.ALL
        }
    job.options = options
    job.state = ImportState.PENDING
    job.progress = 0
    job.attempts = 0
    job.lease_until = _queued_lease()
    job.save(update_fields=["state", "options", "progress", "attempts", "lease_until"])
    # Idempotent: the import runs only on a confirmed job, and a second delivery finds it locked.
    outbox_enqueue(task=tasks.import_run.name, args=[job.pk])
    return job


def import_progress(job: ImportJob) -> int:
    if job.is_finished or job.state == ImportState.PREVIEW:
        return 100
    return job.progress


# --- Leases: a worker that dies is noticed, and its job resumed or failed with the reason ---
#
# A worker checking or importing a file holds a PostgreSQL advisory lock on the job (it goes
# when the worker's connection does, however the worker died) and, from a thread with its
# own connection, pushes ``lease_until`` ahead and writes the progress every
# ``JOB_HEARTBEAT_SECONDS``. The import's own transaction stays invisible until it commits,
# so the lease and the progress cannot be written inside it. The beat sweep
# (``import_jobs_recover``) takes the busy jobs whose lease ran out and whose lock nobody
# holds: it sends them again (the import is all-or-nothing, so it starts over and cannot
# duplicate rows), or fails them once a step was started ``JOB_MAX_ATTEMPTS`` times.

_LOCK_CLASS = 0x494D  # advisory-lock namespace of import jobs ("IM")


def _lease() -> Any:
    return timezone.now() + timedelta(seconds=settings.JOB_LEASE_SECONDS)


def _queued_lease() -> Any:
    """How long a queued job may wait for a worker before its message is sent again (a
    second message is harmless: the lock and the state let one run)."""
    return timezone.now() + timedelta(seconds=settings.JOB_LEASE_SECONDS * 5)


@contextmanager
def _job_lock(job_id: int) -> Iterator[bool]:
    """The job's advisory lock for this connection's session; yields whether it was free."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [_LOCK_CLASS, job_id])
        got = cursor.fetchone()[0]
    try:
        yield got
    finally:
        if got:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_LOCK_CLASS, job_id])
            except DatabaseError:
                pass  # the connection is gone, and the lock with it


class Pacer:
    """Keeps a background job busy at most ``busy_percent`` of its time: each call after a
    step sleeps in proportion to the work done since the last one (``IMPORT_BUSY_PERCENT``)."""

    def __init__(self, busy_percent: int) -> None:
        self.pause_per_busy = (100 - busy_percent) / busy_percent
        self.mark = time.monotonic()

    def __call__(self) -> None:
        if self.pause_per_busy > 0:
            time.sleep((time.monotonic() - self.mark) * self.pause_per_busy)
        self.mark = time.monotonic()


@contextmanager
def _leased(job_id: int, *, paced: bool = False) -> Iterator[Callable[[int], None]]:
    """Renew the job's lease and store its progress every ``JOB_HEARTBEAT_SECONDS`` from a
    thread (with its own database connection) while the body runs; yields the progress
    setter. ``paced``: each progress step is also a point to pause at (``Pacer``), for the
    run itself; the preview, which someone is waiting for, is not paced."""
    latest: dict[str, int] = {}
    stop = threading.Event()

    def renew() -> None:
        try:
            while not stop.wait(settings.JOB_HEARTBEAT_SECONDS):
                values: dict[str, Any] = {"lease_until": _lease()}
                if "percent" in latest:
                    values["progress"] = latest["percent"]
                try:
                    ImportJob.objects.filter(pk=job_id, state__in=BUSY_STATES).update(**values)
                except DatabaseError:
                    log.warning("import %s: the lease could not be renewed", job_id, exc_info=True)
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=renew, name=f"import-{job_id}-lease", daemon=True)
    thread.start()
    pace = Pacer(settings.IMPORT_BUSY_PERCENT if paced else 100)

    def progress(percent: int) -> None:
        latest["percent"] = max(0, min(100, percent))
        pace()

    try:
        yield progress
    finally:
        stop.set()
        thread.join(timeout=30)


BUSY_STATES = (ImportState.ANALYSING, ImportState.PENDING, ImportState.RUNNING)


def _claim(job_id: int, *, states: tuple[str, ...], state: str, step: str) -> ImportJob | None:
    """Start a step of the job (the caller holds its lock): count the attempt and take the
    lease; ``None`` when the job is not waiting for this step or has used its attempts."""
    with transaction.atomic():
        job = ImportJob.objects.without_file().select_for_update().filter(pk=job_id).first()
        if job is None or job.state not in states:
            return None
        if job.attempts >= settings.JOB_MAX_ATTEMPTS:
            _fail_stopped(job, step=step)
            return None
        job.state = state
        job.attempts += 1
        job.progress = 0
        job.lease_until = _lease()
        fields = ["state", "attempts", "progress", "lease_until"]
        if step == "run":
            job.started_at = timezone.now()
            fields.append("started_at")
        job.save(update_fields=fields)
    return job


def _fail_stopped(job: ImportJob, *, step: str) -> None:
    """Fail a job whose worker stopped ``attempts`` times (the caller holds the row)."""
    if step == "run":
        message = ngettext(
            "The worker stopped while importing this file (%(n)d attempt); the import was rolled back.",
            "The worker stopped while importing this file (%(n)d attempts); the import was rolled back each time.",
            job.attempts,
        ) % {"n": job.attempts}
    else:
        message = ngettext(
            "The worker stopped while checking this file (%(n)d attempt).",
            "The worker stopped while checking this file (%(n)d attempts).",
            job.attempts,
        ) % {"n": job.attempts}
    job.state = ImportState.FAILED
    job.error = message
    job.finished_at = timezone.now()
    job.lease_until = None
    job.save(update_fields=["state", "error", "finished_at", "lease_until"])


def _send(task: Any, job_id: int) -> None:
    """Queue a job's step after commit. A broker that is down loses nothing: the job keeps its
    state and lease in PostgreSQL, and the sweep sends it again once the lease runs out."""

    def send() -> None:
        try:
            task.delay(job_id)
        except Exception:  # any broker error: the sweep sends it later
            log.warning("import %s: could not queue %s; the sweep will", job_id, task.name, exc_info=True)

    transaction.on_commit(send)


def import_jobs_recover(*, limit: int = 100) -> dict[str, int]:
    """The beat sweep: send again, or fail with the reason, the busy jobs whose lease ran out
    and whose worker is gone (nobody holds their lock). Returns how many of each."""
    from contacts import tasks

    now = timezone.now()
    expired = list(
        ImportJob.objects.filter(state__in=BUSY_STATES, lease_until__lt=now)
        .order_by("lease_until")
        .values_list("pk", flat=True)[:limit]
    ) + list(
        ImportJob.objects.filter(state__in=BUSY_STATES, lease_until__isnull=True).values_list("pk", flat=True)[:limit]
    )
    counts = {"resent": 0, "failed": 0}
    for job_id in expired:
        with _job_lock(job_id) as free:
            if not free:
                continue  # a live worker holds it; its lease renewal is only late
            with transaction.atomic():
                job = (
                    ImportJob.objects.without_file()
                    .select_for_update(skip_locked=True)
                    .filter(pk=job_id, state__in=BUSY_STATES)
                    .first()
                )
                if job is None or (job.lease_until is not None and job.lease_until >= timezone.now()):
                    continue
                step = "analyse" if job.state == ImportState.ANALYSING else "run"
                if job.attempts >= settings.JOB_MAX_ATTEMPTS:
                    _fail_stopped(job, step=step)
                    counts["failed"] += 1
                    log.warning("import %s: failed after %s attempts", job_id, job.attempts)
                    continue
                if job.state == ImportState.RUNNING:
                    job.state = ImportState.PENDING  # waiting for a worker again
                job.progress = 0
                job.lease_until = _queued_lease()
                job.save(update_fields=["state", "progress", "lease_until"])
                _send(tasks.import_analyse if step == "analyse" else tasks.import_run, job_id)
                counts["resent"] += 1
                log.warning("import %s: its worker stopped; sent again (%s so far)", job_id, job.attempts)
    return counts


def import_retry(*, job: ImportJob) -> ImportJob:
    """The user asked to try a failed job again: from the dry run if it never got a preview,
    else the import itself. The owner's rules apply whoever clicks (an admin helping out)."""
    from contacts import tasks

    with transaction.atomic():
        job = ImportJob.objects.without_file().select_for_update().get(pk=job.pk)
        if job.state != ImportState.FAILED:
            return job
        analysed = bool(job.preview)
        job.state = ImportState.PENDING if analysed else ImportState.ANALYSING
        job.error = ""
        job.finished_at = None
        job.progress = 0
        job.attempts = 0
        job.lease_until = _queued_lease()
        job.save(update_fields=["state", "error", "finished_at", "progress", "attempts", "lease_until"])
        _send(tasks.import_run if analysed else tasks.import_analyse, job.pk)
    return job


# --- Planning (reads only) ----------------------------------------------------------------


@dataclass
class Plan:
    creates: list[Model] = field(default_factory=list)
    updates: list[tuple[Model, list[str]]] = field(default_factory=list)
    skipped: int = 0
    errors: list[tuple[int, str, list[str]]] = field(default_factory=list)
    new_companies: dict[str, Company] = field(default_factory=dict)
    tags: dict[int, list[str]] = field(default_factory=dict)  # id(instance) → tag names
    update_samples: list[dict[str, Any]] = field(default_factory=list)
    # Rows without a match by key that the duplicate matcher ties to an existing record.
    duplicates: list[dict[str, Any]] = field(default_factory=list)  # the first DUPLICATES_SHOWN
    duplicate_count: int = 0

    @property
    def counts(self) -> dict[str, int]:
        return {
            "created": len(self.creates),
            "updated": len(self.updates),
            "skipped": self.skipped,
            "rejected": len(self.errors),
            "companies_created": len(self.new_companies),
            "duplicates": self.duplicate_count,
        }


def _chunks(values: list[Any], size: int = LOOKUP_CHUNK) -> Iterable[list[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


class _Matcher:
    """Existing records by match key, loaded in bulk for the values the file has."""

    def __init__(self, model: type[Company] | type[Contact], actor: User) -> None:
        self.model = model
        self.actor = actor
        self.index: dict[tuple[str, str], tuple[int, int]] = {}

    def _keep(self, key: str, value: str, pk: int, owner_id: int) -> None:
        if not value:
            return
        current = self.index.get((key, value))
        # Prefer a record the user may change; among equals, the oldest.
        if (
            current is None
            or (self.actor.can_edit_owner(owner_id) and not self.actor.can_edit_owner(current[1]))
            or (self.actor.can_edit_owner(owner_id) == self.actor.can_edit_owner(current[1]) and pk < current[0])
        ):
            self.index[(key, value)] = (pk, owner_id)

    def load(self, key: str, values: set[str]) -> None:
        qs = self.model.objects.visible_to(self.actor).active().order_by()
        for chunk in _chunks(sorted(values)):
            if key == "phone" and self.model is Contact:
                for pk, owner_id, phone, mobile in qs.filter(Q(phone__in=chunk) | Q(mobile__in=chunk)).values_list(
                    "id", "owner_id", "phone", "mobile"
                ):
                    self._keep(key, phone, pk, owner_id)
                    self._keep(key, mobile, pk, owner_id)
            elif key == "email" and self.model is Contact:
                # Stored in lower case; Lower() lets the (lower(email), id) index answer.
                rows = (
                    qs.annotate(lemail=Lower("email")).filter(lemail__in=chunk).values_list("id", "owner_id", "lemail")
                )
                for pk, owner_id, value in rows:
                    self._keep(key, value, pk, owner_id)
            elif key == "name":
                rows = qs.annotate(lname=Lower("name")).filter(lname__in=chunk).values_list("id", "owner_id", "lname")
                for pk, owner_id, value in rows:
                    self._keep(key, value, pk, owner_id)
            else:
                for pk, owner_id, value in qs.filter(**{f"{key}__in": chunk}).values_list("id", "owner_id", key):
                    self._keep(key, value, pk, owner_id)

    def find(self, key: str, values: list[str]) -> tuple[int, int] | None:
        for value in values:
            found = self.index.get((key, value))
            if found:
                return found
        return None


def _key_values(kind: str, key: str, row: RowValues) -> list[str]:
    fields = row.fields
    if key == "phone":
        return [v for v in (fields.get("phone"), fields.get("mobile")) if v and v.startswith("+")]
    if key == "name":
        return [fields["name"].lower()] if fields.get("name") else []
    value = fields.get(key)
    return [value] if value else []


_MATCH_LABELS = {
    "email": "email",
    "phone": "phone",
    "external_id": "external ID",
    "domain": "domain",
    "name": "name",
}


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Pause Python's cycle collector while an import holds 100,000s of live objects: each
    full collection walks all of them, which made the run time grow with the square of the
    rows. Reference counting still frees everything as usual."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _plan(job: ImportJob, actor: User, *, progress: Callable[[int], None]) -> Plan:
    """Every row's fate — create, update (with which fields), skip or reject — without writing."""
    with _no_cyclic_gc():
        return _plan_rows(job, actor, progress=progress)


def _plan_rows(job: ImportJob, actor: User, *, progress: Callable[[int], None]) -> Plan:
    kind = job.kind
    model: type[Company] | type[Contact] = Company if kind == ImportKind.COMPANIES else Contact
    options = job.options or {}
    mode = options.get("mode", "fill")
    keep_invalid = bool(options.get("keep_invalid_phones"))
    chosen = options.get("match_key") or match_keys_for(kind)[0][0]
    mapped = set(filter(None, job.mapping.values()))
    # The chosen key first; a row without a value there is matched on the next key it has.
    chain = [chosen] + [k for k, _label in match_keys_for(kind) if k != chosen]
    chain = [k for k in chain if (k in mapped) or (k == "phone" and "mobile" in mapped)]
    plan = Plan()

    table = read_table(bytes(job.file_data), job.file_name, encoding=job.encoding)
    rows: list[tuple[int, list[str], dict[str, str]]] = []
    for line, cells in table.rows:
        rows.append((line, cells, apply_mapping(job.mapping, cells)))
        if len(rows) > settings.IMPORT_MAX_ROWS:
            raise ImportFileError(
                ngettext(
                    "The file has more than %(max)d row.",
                    "The file has more than %(max)d rows.",
                    settings.IMPORT_MAX_ROWS,
                )
                % {"max": settings.IMPORT_MAX_ROWS}
            )
    total = max(1, len(rows))

    # Companies named in a contacts file, found among the visible ones by name or domain.
    companies_by_name: dict[str, tuple[int, str]] = {}
    companies_by_domain: dict[str, tuple[int, str]] = {}
    if kind == ImportKind.CONTACTS and ("company" in mapped or "company_domain" in mapped):
        names = {raw.get("company", "").strip().lower() for _l, _c, raw in rows} - {""}
        domains = {raw.get("company_domain", "").strip().lower() for _l, _c, raw in rows} - {""}
        visible = Company.objects.visible_to(actor).active().order_by("-id")
        for chunk in _chunks(sorted(names)):
            for pk, lname, country in (
                visible.annotate(lname=Lower("name")).filter(lname__in=chunk).values_list("id", "lname", "country")
            ):
                companies_by_name[lname] = (pk, country)
        for chunk in _chunks(sorted(domains)):
            # Raw website values; the cleaned domains are looked up again below if they differ.
            for pk, domain, country in visible.filter(domain__in=chunk).values_list("id", "domain", "country"):
                companies_by_domain[domain] = (pk, country)
    company_countries = {name: country for name, (_pk, country) in companies_by_name.items() if country}

    users = {}
    for user in users_visible_to(actor):
        users[user.username.lower()] = user
        if user.email:
            users.setdefault(user.email.lower(), user)
    owner_mapped = "owner" in mapped

    cleaned: list[tuple[RowValues, list[str], User]] = []
    for i, (line, cells, raw) in enumerate(rows):
        try:
            row = clean_row(kind, line, raw, keep_invalid_phones=keep_invalid, company_countries=company_countries)
            owner = actor
            if row.owner_ref:
                owner = users.get(row.owner_ref.lower())
                if owner is None:
                    raise RowError(
                        _("Owner “%(value)s” is not a user you may assign records to.") % {"value": row.owner_ref}
                    )
        except RowError as exc:
            plan.errors.append((line, str(exc), cells))
            continue
        cleaned.append((row, cells, owner))
        if i % 1000 == 0:
            progress(int(30 * i / total))

    # Domains that only became clean after normalisation (https://www.x.com → x.com).
    missing_domains = sorted(
        {r.company_domain for r, _c, _o in cleaned if r.company_domain and r.company_domain not in companies_by_domain}
    )
    if missing_domains:
        visible = Company.objects.visible_to(actor).active().order_by("-id")
        for chunk in _chunks(missing_domains):
            for pk, domain, country in visible.filter(domain__in=chunk).values_list("id", "domain", "country"):
                companies_by_domain[domain] = (pk, country)

    matcher = _Matcher(model, actor)
    for key in chain:
        values = {v for r, _c, _o in cleaned for v in _key_values(kind, key, r)}
        if values:
            matcher.load(key, values)
    progress(40)

    seen: dict[tuple[str, str], int] = {}
    claimed: dict[int, int] = {}  # existing record id → line that updates it
    existing_ids: list[int] = []
    pending_updates: list[tuple[RowValues, list[str], User, int, str]] = []
    new_rows: list[tuple[RowValues, list[str], User]] = []
    for row, cells, owner in cleaned:
        key, values = next(((k, v) for k in chain if (v := _key_values(kind, k, row))), ("", []))
        duplicate_of = next((seen[(key, v)] for v in values if (key, v) in seen), None)
        if duplicate_of is not None:
            plan.errors.append(
                (
                    row.line,
                    _("Same %(key)s as line %(line)d of this file.")
                    % {"key": _(_MATCH_LABELS[key]), "line": duplicate_of},
                    cells,
                )
            )
            continue
        for v in values:
            seen[(key, v)] = row.line
        found = matcher.find(key, values) if key else None
        if found is None:
            new_rows.append((row, cells, owner))
            continue
        pk, owner_id = found
        if not actor.can_edit_owner(owner_id):
            plan.errors.append(
                (
                    row.line,
                    _("Matches an existing %(model)s (#%(pk)d) by %(key)s that you may only read, not change.")
                    % {"model": model._meta.verbose_name, "pk": pk, "key": _(_MATCH_LABELS[key])},
                    cells,
                )
            )
            continue
        if pk in claimed:
            plan.errors.append(
                (
                    row.line,
                    _("Matches the same existing record as line %(line)d.") % {"line": claimed[pk]},
                    cells,
                )
            )
            continue
        claimed[pk] = row.line
        if mode == "skip":
            plan.skipped += 1
            continue
        existing_ids.append(pk)
        pending_updates.append((row, cells, owner, pk, mode))

    # Rows no key matched: likely duplicates of existing contacts are skipped, updated or
    # created as the user chose on the preview (a confident match is skipped by default).
    matches = (
        _duplicate_matches(actor, new_rows, companies_by_name, companies_by_domain)
        if kind == ImportKind.CONTACTS and new_rows
        else {}
    )
    choices = options.get("duplicate_choices") or {}
    default = options.get("duplicate_default") or DuplicateAction.SKIP
    for index, (row, cells, owner) in enumerate(new_rows):
        match = matches.get(index)
        action = DuplicateAction.CREATE
        if match is not None:
            editable = actor.can_edit_owner(match.record.owner_id)
            action = _duplicate_action(choices.get(str(row.line)), match, default=default, editable=editable)
            plan.duplicate_count += 1
            if len(plan.duplicates) < DUPLICATES_SHOWN:
                plan.duplicates.append(_duplicate_sample(row, match, action=action, editable=editable))
        if action == DuplicateAction.CREATE:
            plan.creates.append(_new_record(kind, row, owner, plan, companies_by_name, companies_by_domain))
        elif action == DuplicateAction.SKIP:
            plan.skipped += 1
        else:
            pk = match.record.pk
            if pk in claimed:
                plan.errors.append(
                    (row.line, _("Matches the same existing record as line %(line)d.") % {"line": claimed[pk]}, cells)
                )
                continue
            claimed[pk] = row.line
            existing_ids.append(pk)
            # "Update" on a file imported with "skip" fills the empty fields.
            pending_updates.append((row, cells, owner, pk, MatchMode.FILL if mode == MatchMode.SKIP else mode))
    if kind == ImportKind.CONTACTS:
        _default_addresses(plan.creates)
    progress(45)

    existing: dict[int, Model] = {}
    qs = model.objects.select_related("company", "owner") if model is Contact else model.objects.select_related("owner")
    if "tags" in mapped:
        qs = qs.prefetch_related("tags")
    for chunk in _chunks(existing_ids):
        existing.update(qs.in_bulk(chunk))
    for row, _cells, owner, pk, row_mode in pending_updates:
        record = existing[pk]
        changed = _apply_changes(
            kind, record, row, owner if owner_mapped else None, row_mode, plan, companies_by_name, companies_by_domain
        )
        if changed:
            plan.updates.append((record, changed))
        else:
            plan.skipped += 1  # nothing new in the file for this record
    progress(50)
    return plan


def _default_addresses(records: list[Model]) -> None:
    """As ``contact_create`` does: a new contact of an existing company without an address of
    its own takes the company's address, and its country when it has none."""
    wanting = [
        r
        for r in records
        if r.company_id and (not r.country or not any(getattr(r, name) for name in CONTACT_ADDRESS_FROM_COMPANY))
    ]
    ids = sorted({r.company_id for r in wanting})
    addresses: dict[int, dict[str, Any]] = {}
    columns = [source for source in CONTACT_ADDRESS_FROM_COMPANY.values() if source] + ["country"]
    for chunk in _chunks(ids):
        for row in Company.objects.filter(pk__in=chunk).order_by().values("id", *columns):
            addresses[row["id"]] = row
    for record in wanting:
        company = addresses.get(record.company_id)
        if company is None:
            continue
        if not any(getattr(record, name) for name in CONTACT_ADDRESS_FROM_COMPANY):
            for name, source in CONTACT_ADDRESS_FROM_COMPANY.items():
                if source and company[source]:
                    setattr(record, name, company[source])
        if not record.country and company["country"]:
            record.country = company["country"]


class DuplicateAction:
    """What a row that likely duplicates an existing contact does (chosen on the preview)."""

    SKIP = "skip"
    UPDATE = "update"
    CREATE = "create"
    ALL = (SKIP, UPDATE, CREATE)


def _duplicate_matches(
    actor: User,
    new_rows: list[tuple[RowValues, list[str], User]],
    by_name: dict[str, tuple[int, str]],
    by_domain: dict[str, tuple[int, str]],
) -> dict[int, RowMatch]:
    """The likely duplicate of each row (by its index in ``new_rows``) among visible contacts."""
    values = []
    for row, _cells, _owner in new_rows:
        company_id = None
        if row.company_domain and row.company_domain in by_domain:
            company_id = by_domain[row.company_domain][0]
        elif row.company_name and row.company_name.lower() in by_name:
            company_id = by_name[row.company_name.lower()][0]
        values.append({**row.fields, "company_id": company_id, "company_name": row.company_name})
    return contact_import_matches(actor, rows=values)


def _duplicate_action(choice: Any, match: RowMatch, *, default: str, editable: bool) -> str:
    """The user's choice for the row when it was made for this same record; otherwise skip a
    confident match (or what the preview set for all of them) and create the others. A record
    the user may only read is never updated."""
    allowed = DuplicateAction.ALL if editable else (DuplicateAction.SKIP, DuplicateAction.CREATE)
    if isinstance(choice, dict) and choice.get("record") == match.record.pk and choice.get("action") in allowed:
        return choice["action"]
    if not match.confident:
        return DuplicateAction.CREATE
    return default if default in allowed else DuplicateAction.SKIP


def _duplicate_sample(row: RowValues, match: RowMatch, *, action: str, editable: bool) -> dict[str, Any]:
    """What the preview shows of a likely duplicate: the row, the record, why, and the choice."""
    fields = row.fields
    record = match.record

    def facts(values: list[Any]) -> str:
        return " · ".join(str(v) for v in values if v)

    return {
        "line": row.line,
        "name": " ".join(filter(None, (fields.get("first_name"), fields.get("last_name")))),
        "row_facts": facts(
            [
                row.company_name,
                fields.get("email"),
                fields.get("phone") or fields.get("mobile"),
                fields.get("city"),
                fields.get("birth_date").isoformat() if fields.get("birth_date") else "",
            ]
        ),
        "record_id": record.pk,
        "record": str(record),
        "record_facts": facts(
            [
                record.company.name if record.company_id else "",
                record.email,
                record.phone or record.mobile,
                record.city,
                record.birth_date.isoformat() if record.birth_date else "",
                record.owner,
            ]
        ),
        "score": match.score,
        "reasons": [str(reason) for reason in match.reasons],
        "confident": match.confident,
        "editable": editable,
        "action": action,
    }


def _company_for_row(
    row: RowValues,
    owner: User,
    plan: Plan,
    by_name: dict[str, tuple[int, str]],
    by_domain: dict[str, tuple[int, str]],
) -> tuple[int | None, Company | None]:
    """The company a contact row names: an existing visible one (by website, then name), one
    this import creates (shared by every row naming it), or none."""
    if row.company_domain and row.company_domain in by_domain:
        return by_domain[row.company_domain][0], None
    lname = row.company_name.lower()
    if lname and lname in by_name:
        return by_name[lname][0], None
    if not lname and not row.company_domain:
        return None, None
    new_key = lname or row.company_domain
    company = plan.new_companies.get(new_key)
    if company is None:
        company = Company(
            name=row.company_name or row.company_domain,
            domain=row.company_domain,
            country=row.fields.get("country", ""),
            owner=owner,
            source=Source.IMPORT,
        )
        company.completeness = company.compute_completeness()
        plan.new_companies[new_key] = company
    return None, company


def _new_record(
    kind: str,
    row: RowValues,
    owner: User,
    plan: Plan,
    by_name: dict[str, tuple[int, str]],
    by_domain: dict[str, tuple[int, str]],
) -> Model:
    fields = dict(row.fields)
    fields.setdefault("source", Source.IMPORT)
    if kind == ImportKind.COMPANIES:
        record: Model = Company(owner=owner, phone_is_invalid=row.phone_invalid, **fields)
    else:
        record = Contact(owner=owner, phone_is_invalid=row.phone_invalid, **fields)
        company_id, new_company = _company_for_row(row, owner, plan, by_name, by_domain)
        record.company_id = company_id
        record._import_company = new_company  # linked once the company has an id
    record._import_line = row.line
    if row.custom:
        record.custom = dict(row.custom)
    if row.tags:
        plan.tags[id(record)] = row.tags
    return record


def _is_empty(value: Any) -> bool:
    return value in ("", None, False)


def _apply_changes(
    kind: str,
    record: Model,
    row: RowValues,
    owner: User | None,
    mode: str,
    plan: Plan,
    by_name: dict[str, tuple[int, str]],
    by_domain: dict[str, tuple[int, str]],
) -> list[str]:
    """Set the row's values on ``record`` as ``mode`` says; the names of the fields changed.

    Empty cells never erase anything, in either mode; tags are only ever added.
    """
    changed: list[str] = []
    before: dict[str, Any] = {}
    values: dict[str, Any] = dict(row.fields)
    if kind == ImportKind.CONTACTS and (row.company_name or row.company_domain):
        company_id, new_company = _company_for_row(row, owner or record.owner, plan, by_name, by_domain)
        if new_company is not None:
            if mode == "overwrite" or record.company_id is None:
                record._import_company = new_company
                changed.append("company")
                before["company"] = str(record.company) if record.company_id else ""
        elif company_id is not None:
            values["company_id"] = company_id
    if owner is not None and mode == "overwrite":
        values["owner_id"] = owner.pk
    for name, value in values.items():
        current = getattr(record, name)
        if current == value or (mode == "fill" and not _is_empty(current)):
            continue
        before[name.removesuffix("_id")] = str(record.company) if name == "company_id" and current else current
        setattr(record, name, value)
        changed.append(name)
    if {"phone", "mobile"} & set(changed):
        record.phone_is_invalid = row.phone_invalid
        changed.append("phone_is_invalid")
    if row.custom:
        # Custom fields follow the same rule: "fill" only sets the ones without a value.
        custom = dict(record.custom or {})
        for key, value in row.custom.items():
            if custom.get(key) != value and (mode != "fill" or key not in custom):
                custom[key] = value
        if custom != (record.custom or {}):
            before["custom"] = ""
            record.custom = custom
            changed.append("custom")
    new_tags = row.tags
    if new_tags:
        # Tags prefetched with the record (the mapping has a tags column): only new ones count.
        have = {tag.name.lower() for tag in record.tags.all()}
        new_tags = [name for name in new_tags if name.lower() not in have]
    if new_tags:
        plan.tags[id(record)] = new_tags
    if not changed and not new_tags:
        return []
    if not changed:
        changed.append("tags")  # only tags to add
    if len(plan.update_samples) < SAMPLE_SIZE:
        plan.update_samples.append(
            {
                "line": row.line,
                "record": str(record),
                "changes": [
                    {"field": name, "before": str(before.get(name) or ""), "after": _shown(record, name)}
                    for name in (n.removesuffix("_id") for n in changed)
                    if name not in ("phone_is_invalid", "tags")
                ],
            }
        )
    return changed


def _shown(record: Model, name: str) -> str:
    """A changed field's new value as the preview shows it."""
    if name == "company" and getattr(record, "_import_company", None) is not None:
        return str(record._import_company)
    if name == "custom":
        values = custom_fields.display_values(record, record.custom)
        return "; ".join(f"{defn.label}: {text}" for defn, text in values if text)
    return str(getattr(record, name, ""))


# --- Writing ------------------------------------------------------------------------------


def _write(job: ImportJob, actor: User, plan: Plan, *, progress: Callable[[int], None]) -> None:
    """Create and update everything in ``plan`` with their history and timeline events, in
    batches of bulk statements. The caller holds the transaction."""
    with _no_cyclic_gc():
        _write_plan(job, actor, plan, progress=progress)


def _write_plan(job: ImportJob, actor: User, plan: Plan, *, progress: Callable[[int], None]) -> None:
    now = timezone.now()
    reason = f"Import #{job.pk}"
    model: type[Company] | type[Contact] = Company if job.kind == ImportKind.COMPANIES else Contact
    events: list[dict[str, Any]] = []
    source_data = {"import_job": job.pk, "file": job.file_name}

    companies = list(plan.new_companies.values())
    if companies:
        for company in companies:
            company.created_at = company.updated_at = now
        copy_instances(Company, companies)
        copy_history(Company, companies, user_id=actor.pk, reason=reason, when=now)
        for company in companies:
            events.append(
                _event("created", _("Imported from %(file)s") % {"file": job.file_name}, actor, company, None)
            )

    to_create = plan.creates
    for record in to_create:
        new_company = getattr(record, "_import_company", None)
        if new_company is not None:
            record.company = new_company
        record.created_at = record.updated_at = now
        record.completeness = record.compute_completeness()
        if model is Contact:
            record.dedupe_keys = record.compute_dedupe_keys()
    total = max(1, len(to_create) + len(plan.updates))
    done = 0
    for start in range(0, len(to_create), COPY_BATCH):
        batch = to_create[start : start + COPY_BATCH]
        copy_instances(model, batch)
        copy_history(model, batch, user_id=actor.pk, reason=reason, when=now)
        done += len(batch)
        progress(50 + int(45 * done / total))
    for record in to_create:
        events.append(_event("created", _("Imported from %(file)s") % {"file": job.file_name}, actor, *_owners(record)))

    updates = plan.updates
    for record, _changed in updates:
        new_company = getattr(record, "_import_company", None)
        if new_company is not None:
            record.company = new_company
        record.completeness = record.compute_completeness()
        record.updated_at = now
        record.version += 1  # what ``copy_update`` writes (version + 1), for the history row
        if model is Contact:
            record.dedupe_keys = record.compute_dedupe_keys()
    fields = sorted(
        {name for _r, changed in updates for name in changed if name != "tags"}
        | {"completeness", "updated_at"}
        | ({"dedupe_keys"} if model is Contact else set())
    )
    fields = ["company" if name == "company_id" else "owner" if name == "owner_id" else name for name in fields]
    fields = sorted(set(fields))
    for start in range(0, len(updates), COPY_BATCH):
        batch = [record for record, _changed in updates[start : start + COPY_BATCH]]
        copy_update(model, batch, fields)
        copy_history(model, batch, user_id=actor.pk, reason=reason, when=now, history_type="~")
        done += len(batch)
        progress(50 + int(45 * done / total))
    for record, changed in updates:
        events.append(
            _event(
                "updated",
                _("Updated by the import of %(file)s") % {"file": job.file_name},
                actor,
                *_owners(record),
                changed=[name.removesuffix("_id") for name in changed if name != "phone_is_invalid"],
            )
        )

    if plan.tags:
        _write_tags(model, plan, to_create + [record for record, _c in updates])
    for event in events:
        event["data"] = {**source_data, **event["data"]}
    for start in range(0, len(events), 5000):
        customer_events.send(sender=model, events=events[start : start + 5000])
    progress(99)


def _owners(record: Model) -> tuple[Company | None, Contact | None]:
    if isinstance(record, Company):
        return record, None
    return None, record  # the receiver takes the company from ``company_id``, without a query


def _event(
    action: str,
    title: str,
    actor: User,
    company: Company | None,
    contact: Contact | None,
    *,
    changed: list[str] | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {"action": action}
    if changed:
        data["fields"] = changed
    return {
        "kind": "import",
        "title": title,
        "actor": actor,
        "company": company,
        "contact": contact,
        "deal": None,
        "data": data,
        "source": "import",
    }


def _write_tags(model: type[Company] | type[Contact], plan: Plan, records: list[Model]) -> None:
    tags = {tag.name.lower(): tag for tag in tags_get_or_create(names={n for ns in plan.tags.values() for n in ns})}
    through = model.tags.through
    fk = "company_id" if model is Company else "contact_id"
    links = []
    for record in records:
        for name in plan.tags.get(id(record), ()):
            tag = tags.get(name.lower())
            if tag is not None:
                links.append(through(**{fk: record.pk, "tag_id": tag.pk}))
    through.objects.bulk_create(links, batch_size=BATCH_SIZE, ignore_conflicts=True)


def _store_errors(job: ImportJob, errors: list[tuple[int, str, list[str]]]) -> None:
    ImportRowError.objects.filter(job=job).delete()
    ImportRowError.objects.bulk_create(
        [ImportRowError(job=job, line=line, reason=reason[:500], values=cells) for line, reason, cells in errors],
        batch_size=BATCH_SIZE,
    )


def _create_samples(plan: Plan) -> list[dict[str, Any]]:
    samples = []
    for record in plan.creates[:SAMPLE_SIZE]:
        company = getattr(record, "_import_company", None)
        samples.append(
            {
                "line": record._import_line,
                "record": str(record),
                "email": getattr(record, "email", ""),
                "phone": record.phone,
                "company": str(company) if company is not None else "",
                "company_new": company is not None,
                "country": str(record.country.code or ""),
                "owner": str(record.owner),
            }
        )
    return samples


# --- The two Celery-run steps -------------------------------------------------------------


def import_analyse(*, job_id: int) -> ImportJob | None:
    """The dry run: plan every row, store the counts, samples and rejected rows, write nothing."""
    with _job_lock(job_id) as free:
        if not free:
            return None  # another worker is checking this file right now
        if _claim(job_id, states=(ImportState.ANALYSING,), state=ImportState.ANALYSING, step="analyse") is None:
            return None  # already analysed, the user changed the mapping meanwhile, or out of attempts
        return _analyse(job_id)


def _analyse(job_id: int) -> ImportJob | None:
    job = ImportJob.objects.select_related("owner").get(pk=job_id)
    # Storing the preview is inside the error handling too: whatever fails, the job ends
    # FAILED with a reason on its page, never "Checking every row… 100 %" forever.
    try:
        with _leased(job_id) as progress:
            plan = _plan(job, job.owner, progress=lambda p: progress(p * 2))
        with transaction.atomic():
            locked = ImportJob.objects.without_file().select_for_update().get(pk=job_id)
            if locked.state != ImportState.ANALYSING:
                return locked
            _store_errors(locked, plan.errors)
            counts = plan.counts
            locked.preview = {
                **counts,
                "creates": _create_samples(plan),
                "updates": plan.update_samples,
                "duplicate_rows": plan.duplicates,
            }
            locked.rejected_count = counts["rejected"]
            locked.state = ImportState.PREVIEW
            locked.progress = 100
            locked.attempts = 0
            locked.lease_until = None
            locked.save(update_fields=["preview", "rejected_count", "state", "progress", "attempts", "lease_until"])
    except ImportFileError as exc:
        return _fail(job_id, str(exc))
    except Exception as exc:
        log.exception("import %s: dry run failed", job_id)
        return _fail(job_id, _("The file could not be checked: %(error)s") % {"error": exc})
    return locked


def import_execute(*, job_id: int) -> ImportJob | None:
    """The import itself: every row or none, in one transaction that also marks the job done.

    The worker holds the job's advisory lock for the whole run, so a second delivery of the
    same task while the first still runs leaves it alone; a job already done or failed is
    not run again. A run that starts over after a dead worker finds nothing of the previous
    attempt (its transaction rolled back), so no row is ever written twice.
    Raises what went wrong after recording it on the job (the task decides about retrying).
    """
    with _job_lock(job_id) as free:
        if not free:
            return None  # another worker is running this job right now
        waiting = (ImportState.PENDING, ImportState.RUNNING)
        if _claim(job_id, states=waiting, state=ImportState.RUNNING, step="run") is None:
            return None
        return _execute(job_id)


def _execute(job_id: int) -> ImportJob | None:
    job = ImportJob.objects.select_related("owner").get(pk=job_id)
    actor = job.owner
    try:
        with _leased(job_id, paced=True) as progress, transaction.atomic():
            locked = ImportJob.objects.without_file().get(pk=job_id)
            if locked.state != ImportState.RUNNING:
                return locked
            plan = _plan(job, actor, progress=progress)
            _write(job, actor, plan, progress=progress)
            _store_errors(locked, plan.errors)
            counts = plan.counts
            locked.created_count = counts["created"]
            locked.updated_count = counts["updated"]
            locked.skipped_count = counts["skipped"]
            locked.rejected_count = counts["rejected"]
            locked.companies_created = counts["companies_created"]
            locked.state = ImportState.DONE
            locked.finished_at = timezone.now()
            locked.error = ""
            locked.progress = 100
            locked.lease_until = None
            locked.file_data = b""  # imported: the rejected rows keep their own cells
            locked.save()
            security_event_record(
                kind=SecurityEventKind.BULK_CHANGE,
                user=actor,
                detail={
                    "action": "import",
                    "model": str(job.kind),
                    "import_id": job_id,
                    "created": locked.created_count,
                    "updated": locked.updated_count,
                    "rejected": locked.rejected_count,
                },
            )
    except ImportFileError as exc:
        return _fail(job_id, str(exc))
    except Exception as exc:
        log.exception("import %s failed", job_id)
        _fail(job_id, _("The import stopped and nothing was imported: %(error)s") % {"error": exc})
        raise
    return locked


def import_requeue(*, job_id: int, error: str) -> None:
    """Put a job whose run hit a passing problem (database connection) back to pending."""
    ImportJob.objects.filter(pk=job_id, state=ImportState.FAILED).update(
        state=ImportState.PENDING, error=error, finished_at=None, lease_until=_queued_lease()
    )


def _fail(job_id: int, message: str) -> ImportJob | None:
    # PostgreSQL text cannot hold NUL, and an error quoting the file's bytes might.
    message = message.replace("\x00", "")[:2000]
    ImportJob.objects.filter(pk=job_id).update(
        state=ImportState.FAILED, error=message, finished_at=timezone.now(), lease_until=None
    )
    return ImportJob.objects.without_file().filter(pk=job_id).first()


def import_target_labels(kind: str) -> list[tuple[str, str]]:
    return [(target.name, str(target.label)) for target in targets_for(kind)]
