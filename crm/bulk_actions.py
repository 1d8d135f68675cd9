"""Bulk actions on lists: the selected rows, or every row matching the list's filters.

Each app registers its list once (``register_bulk_kind``): how to read the list's filtered
queryset from its query string, and its actions. An action changes ONE record through the
app's own service (so each record gets its own history entry, its version goes up, and its
timeline hears of it) and returns the values it replaced, or ``None`` when the record
already had them; its ``undo`` writes those values back through the same service.

A ``BulkJob`` row holds the record ids (fixed when the user confirms), the progress, and the
previous values. Up to ``settings.BULK_SYNC_MAX`` records run in the request; more run in a
Celery task (``crm.tasks.run_bulk_job``, through the outbox) whose progress the list page
polls. Every record is permission-checked as it is changed; the ones the user may not change
are skipped and counted. The user's last job on a list can be undone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.db.models import F, QuerySet
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from crm.compiled import CompiledQuery
from crm.models import BulkJob, BulkJobState, SecurityEventKind, User
from crm.security import security_event_record
from crm.services import outbox_enqueue

CHUNK = 200


@dataclass(frozen=True)
class BulkAction:
    """``apply(user, record, params)`` changes one record and returns what it replaced (JSON),
    or ``None`` when nothing changed; ``undo(user, record, previous)`` writes it back.
    ``allowed(user, record)``: may this user do this to this record (defaults to owning it)."""

    key: str
    label: str
    apply: Callable[[User, Any, dict[str, Any]], dict[str, Any] | None]
    undo: Callable[[User, Any, dict[str, Any]], None] | None = None
    allowed: Callable[[User, Any], bool] | None = None
    # As ``allowed``, when the answer depends on the job's ``params`` too (a case's new
    # assignee must be in the case's own queue); checked instead of ``allowed``.
    allowed_with: Callable[[User, Any, dict[str, Any]], bool] | None = None
    # May this user undo it on this record (``previous``, the job's ``params``)? Defaults to ``allowed``.
    undo_allowed: Callable[[User, Any, dict[str, Any], dict[str, Any]], bool] | None = None
    # Names of the request parameters the action takes (validated by ``clean``).
    params: tuple[str, ...] = ()
    clean: Callable[[User, QueryDict], dict[str, Any]] = field(default=lambda user, data: {})
    describe: Callable[[dict[str, Any]], str] = field(default=lambda params: "")
    # Asked on a confirmation page even for ticked rows (an action without undo).
    always_confirm: bool = False


@dataclass(frozen=True)
class ParamField:
    """An input of the bulk bar (``choices``: a select, else a text box), shown for ``actions``."""

    name: str
    label: str
    actions: tuple[str, ...]
    choices: list[tuple[Any, str]] | None = None


@dataclass(frozen=True)
class BulkKind:
    """A list that takes bulk actions. ``matching(user, query)``: the list's rows as filtered
    by its query string (only what the user may see); ``load``: the records' queryset for
    changing them (with what the services need joined)."""

    key: str
    model: type[models.Model]
    list_url_name: str
    noun: Callable[[int], str]
    matching: Callable[[User, QueryDict], models.QuerySet]
    load: Callable[[], models.QuerySet]
    actions: dict[str, BulkAction]
    # The bar's inputs for this user, and the export of a queryset of these records.
    param_fields: Callable[[User], list[ParamField]] = field(default=lambda user: [])
    # ``export(request, query, ids)``: the list filtered by ``query`` as a file; ``ids``: only those rows.
    export: Callable[[Any, QueryDict, list[int] | None], Any] | None = None
    # Run once every record has been processed, before the job is marked done (e.g. a stage
    # deletion removes the stage once its deals have moved). Must be idempotent: a worker that
    # dies after it and before "done" runs it again.
    finish: Callable[[BulkJob], None] | None = None


_KINDS: dict[str, BulkKind] = {}


def register_bulk_kind(kind: BulkKind) -> BulkKind:
    _KINDS[kind.key] = kind
    return kind


def bulk_kind(key: str) -> BulkKind | None:
    return _KINDS.get(key)


class BulkInputError(ValueError):
    """A bulk request that cannot run (no action, a bad parameter); the message is for the user."""


def _can(action: BulkAction, user: User, record: Any, params: dict[str, Any]) -> bool:
    if action.allowed_with is not None:
        return action.allowed_with(user, record, params)
    if action.allowed is not None:
        return action.allowed(user, record)
    return user.can_edit_owner(record.owner_id)


# --- Services -------------------------------------------------------------------------------


@transaction.atomic
def bulk_job_create(
    *, user: User, kind: BulkKind, action: BulkAction, params: dict[str, Any], ids: Iterable[int]
) -> BulkJob:
    """A job over ``ids`` (already limited to what the user may see); a large one is queued."""
    ids = list(ids)
    detail = action.describe(params)
    summary = f"{action.label}{': ' + detail if detail else ''}"[:300]
    job = BulkJob.objects.create(
        user=user, kind=kind.key, action=action.key, params=params, ids=ids, total=len(ids), summary=summary
    )
    security_event_record(
        kind=SecurityEventKind.BULK_CHANGE,
        user=user,
        detail={"action": action.key, "model": kind.key, "rows": len(ids), "job": job.pk},
    )
    if len(ids) > settings.BULK_SYNC_MAX:
        outbox_enqueue(task="crm.tasks.run_bulk_job", args=[job.pk])
    return job


def _claim(job_id: int, *, start: str, running: str) -> BulkJob | None:
    with transaction.atomic():
        job = BulkJob.objects.select_for_update(skip_locked=True).filter(pk=job_id).first()
        if job is None or job.state not in {start, running}:
            return None
        if job.state == start:
            job.state = running
            job.save(update_fields=["state"])
    return job


def bulk_job_run(*, job_id: int) -> BulkJob | None:
    """Apply the job's action record by record, from where it got to (a worker that died
    mid-job resumes: records already changed are skipped by ``processed``)."""
    job = _claim(job_id, start=BulkJobState.PENDING, running=BulkJobState.RUNNING)
    if job is None:
        return None
    kind = _KINDS[job.kind]
    action = kind.actions[job.action]
    user = User.objects.get(pk=job.user_id)
    while job.processed < job.total:
        chunk = job.ids[job.processed : job.processed + CHUNK]
        changed = skipped = 0
        previous: dict[str, Any] = {}
        with transaction.atomic():
            records = kind.load().in_bulk(chunk)
            for pk in chunk:
                record = records.get(pk)
                if record is None:
                    continue  # deleted or merged since
                if not _can(action, user, record, job.params):
                    skipped += 1
                    continue
                before = action.apply(user, record, job.params)
                if before is not None:
                    previous[str(pk)] = before
                    changed += 1
            job.previous.update(previous)
            BulkJob.objects.filter(pk=job.pk).update(
                processed=F("processed") + len(chunk),
                changed=F("changed") + changed,
                skipped=F("skipped") + skipped,
                previous=job.previous,
            )
        job.refresh_from_db()
    if kind.finish is not None:
        kind.finish(job)
    BulkJob.objects.filter(pk=job.pk).update(state=BulkJobState.DONE, finished_at=timezone.now())
    job.refresh_from_db()
    return job


def _last_job(kind: str, *, user: int) -> QuerySet[BulkJob]:
    qs = BulkJob.objects.filter(user=user, kind=kind).defer("ids", "previous")
    return (qs if qs.ordered else qs.order_by("pk"))[:1]  # as .first()


# On every list page (its banner): built and compiled once per kind of list.
_LAST_JOB = CompiledQuery(_last_job, user=int)


def last_job(user: User, kind: str) -> BulkJob | None:
    """The user's last bulk action on a list, the one its banner shows (and undo may revert)."""
    found = _LAST_JOB.fetch(kind, user=user.pk)
    return found[0] if found else None


def can_undo(job: BulkJob) -> bool:
    kind = _KINDS.get(job.kind)
    action = kind.actions.get(job.action) if kind else None
    return (
        job.state == BulkJobState.DONE
        and job.changed > 0
        and action is not None
        and action.undo is not None
        and timezone.now() - (job.finished_at or job.created_at) < settings.BULK_UNDO_WINDOW
    )


@transaction.atomic
def bulk_job_undo_start(*, job: BulkJob) -> BulkJob:
    """Mark ``job`` for undoing; a large one is queued (``run_bulk_job`` sees the state)."""
    job = BulkJob.objects.select_for_update().get(pk=job.pk)
    if not can_undo(job):
        raise BulkInputError(_("This bulk action can no longer be undone."))
    job.state = BulkJobState.UNDOING
    job.processed = 0
    job.save(update_fields=["state", "processed"])
    if job.changed > settings.BULK_SYNC_MAX:
        outbox_enqueue(task="crm.tasks.run_bulk_job", args=[job.pk])
    return job


def bulk_job_undo_run(*, job_id: int) -> BulkJob | None:
    """Write back each changed record's previous values (records the user may no longer
    change are left alone), one history entry each."""
    job = BulkJob.objects.filter(pk=job_id, state=BulkJobState.UNDOING).first()
    if job is None:
        return None
    kind = _KINDS[job.kind]
    action = kind.actions[job.action]
    user = User.objects.get(pk=job.user_id)
    pks = sorted(int(pk) for pk in job.previous)
    while job.processed < len(pks):
        chunk = pks[job.processed : job.processed + CHUNK]
        with transaction.atomic():
            records = kind.load().in_bulk(chunk)
            for pk in chunk:
                record = records.get(pk)
                if record is None:
                    continue
                previous = job.previous[str(pk)]
                if action.undo_allowed is not None:
                    allowed = action.undo_allowed(user, record, previous, job.params)
                else:
                    allowed = _can(action, user, record, job.params)
                if allowed:
                    action.undo(user, record, previous)
            BulkJob.objects.filter(pk=job.pk).update(processed=F("processed") + len(chunk))
        job.refresh_from_db()
    BulkJob.objects.filter(pk=job.pk).update(state=BulkJobState.UNDONE, undone_at=timezone.now())
    job.refresh_from_db()
    return job


def bulk_job_continue(*, job_id: int) -> BulkJob | None:
    """What the Celery task runs: the job, or its undo, whichever it is waiting for."""
    state = BulkJob.objects.filter(pk=job_id).values_list("state", flat=True).first()
    if state == BulkJobState.UNDOING:
        return bulk_job_undo_run(job_id=job_id)
    if state in {BulkJobState.PENDING, BulkJobState.RUNNING}:
        return bulk_job_run(job_id=job_id)
    return None


def job_message(job: BulkJob) -> str:
    """One line on what a finished job did."""
    kind = _KINDS.get(job.kind)
    noun = kind.noun(job.changed) if kind else job.kind
    text = _("%(action)s — %(count)s %(noun)s changed") % {"action": job.summary, "count": job.changed, "noun": noun}
    if job.skipped:
        text += "; " + ngettext(
            "%(count)s skipped (you may not change it)", "%(count)s skipped (you may not change them)", job.skipped
        ) % {"count": job.skipped}
    unchanged = job.processed - job.changed - job.skipped
    if job.state == BulkJobState.DONE and unchanged > 0:
        text += "; " + ngettext("%(count)s already so", "%(count)s already so", unchanged) % {"count": unchanged}
    return text + "."


def bulk_status_context(job: BulkJob) -> dict[str, Any]:
    return {"job": job, "message": job_message(job), "can_undo": can_undo(job), "kind": _KINDS.get(job.kind)}


def banner_job(user: User, kind: str) -> BulkJob | None:
    """The job a list's banner shows: running, or finished within the undo window."""
    job = last_job(user, kind)
    if job is None or job.is_busy:
        return job
    if timezone.now() - (job.undone_at or job.finished_at or job.created_at) < settings.BULK_UNDO_WINDOW:
        return job
    return None
