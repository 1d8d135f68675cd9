"""Merging two companies or two contacts into one, and undoing it within ``MERGE_UNDO_DAYS``.

A merge keeps one record (the survivor) with the field values the user picked, moves every
related row of the other record (the loser) to it, and archives the loser with
``merged_into`` set. The loser is kept rather than deleted (its own change history stays
with it, old links lead to the survivor, and undo only has to un-archive it); a
``MergeRecord`` remembers the survivor's fields before the merge and the ids of every row
that was moved, so undo moves back exactly those rows — anything added to the survivor
after the merge stays with it.

Apps above ``contacts`` in the import graph (deals, activities) own rows that point at
companies and contacts. They register a handler from their ``AppConfig.ready()``::

    register_merge_handler(kind="contact", key="deals", move=move_fn, restore=restore_fn)

``move(loser=…, survivor=…)`` moves that app's rows inside the merge's transaction and
returns ``{name: [ids…]}``; ``restore(loser=…, survivor=…, moved=that dict)`` moves them back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts.models import Company, Contact, DuplicateCandidate, MergeRecord, RecordKind, Tag
from contacts.services import COMPANY_PHONE_FIELDS, CONTACT_PHONE_FIELDS, _normalise, _save
from contacts.signals import customer_event
from crm.models import SecurityEventKind, User
from crm.security import security_event_record
from crm.versioning import VersionConflict

Moved = dict[str, list[int]]
MoveFn = Callable[..., Moved]
RestoreFn = Callable[..., None]

# The fields a user picks between, in the order the merge screen shows them.
MERGE_FIELDS: dict[str, list[str]] = {
    RecordKind.COMPANY: [
        "name",
        "domain",
        "industry",
        "size",
        "phone",
        "email",
        "street",
        "city",
        "postal_code",
        "region",
        "country",
        "lifecycle_stage",
        "source",
        "owner",
        "external_id",
    ],
    RecordKind.CONTACT: [
        "first_name",
        "last_name",
        "title",
        "company",
        "email",
        "secondary_email",
        "phone",
        "mobile",
        "do_not_call",
        "do_not_email",
        "street",
        "street2",
        "city",
        "region",
        "postcode",
        "country",
        "birth_date",
        "lifecycle_stage",
        "source",
        "owner",
        "external_id",
    ],
}
# Consent: when the two records disagree, "do not contact" wins unless the user picks otherwise.
RESTRICTIVE_FIELDS = {"do_not_call", "do_not_email"}
# Names follow the record the user chose to keep: the other one is the duplicate, and its
# name is often the re-typed (misspelt) one, even when it is otherwise the fuller record.
NAME_FIELDS = {"name", "first_name", "last_name"}


@dataclass(frozen=True)
class MergeHandler:
    kind: str
    key: str
    move: MoveFn
    restore: RestoreFn


_handlers: dict[tuple[str, str], MergeHandler] = {}


def register_merge_handler(*, kind: str, key: str, move: MoveFn, restore: RestoreFn) -> None:
    _handlers[(RecordKind(kind).value, key)] = MergeHandler(RecordKind(kind).value, key, move, restore)


def merge_handlers(kind: str) -> list[MergeHandler]:
    return [h for (k, _key), h in _handlers.items() if k == kind]


def record_kind(record: Company | Contact) -> str:
    return RecordKind.COMPANY.value if isinstance(record, Company) else RecordKind.CONTACT.value


def _raw(record: Company | Contact, name: str) -> Any:
    """The stored value of field ``name`` (ids for foreign keys), JSON-serialisable."""
    field = record._meta.get_field(name)
    value = getattr(record, field.attname)
    if isinstance(value, date):
        return value.isoformat()  # kept in MergeRecord's JSON
    return str(value) if name == "country" else value


def _set_raw(record: Company | Contact, name: str, value: Any) -> None:
    field = record._meta.get_field(name)
    if isinstance(field, models.DateField) and isinstance(value, str):
        value = date.fromisoformat(value)
    setattr(record, field.attname, value)


def default_choices(survivor: Company | Contact, loser: Company | Contact) -> dict[str, str]:
    """Per differing field, which record's value the merge screen preselects ("survivor" or
    "loser"): a value over an empty one, "do not contact" over consent, the survivor's owner
    and names, otherwise the value of the more complete record (the more recently changed on a
    tie)."""
    choices = {}
    loser_wins = (loser.completeness, loser.updated_at) > (survivor.completeness, survivor.updated_at)
    for name in MERGE_FIELDS[record_kind(survivor)]:
        mine, theirs = _raw(survivor, name), _raw(loser, name)
        if mine == theirs:
            continue
        if name in RESTRICTIVE_FIELDS:
            choices[name] = "loser" if theirs else "survivor"
        elif mine in ("", None):
            choices[name] = "loser"
        elif theirs in ("", None) or name == "owner" or name in NAME_FIELDS:
            choices[name] = "survivor"
        else:
            choices[name] = "loser" if loser_wins else "survivor"
    return choices


def differing_fields(survivor: Company | Contact, loser: Company | Contact) -> list[str]:
    return [n for n in MERGE_FIELDS[record_kind(survivor)] if _raw(survivor, n) != _raw(loser, n)]


def _event(kind: str, title: str, *, actor: User | None, survivor: Company | Contact, data: dict) -> None:
    customer_event.send(
        sender=type(survivor),
        kind=kind,
        title=title,
        occurred_at=timezone.now(),
        actor=actor,
        company=survivor if isinstance(survivor, Company) else survivor.company,
        contact=survivor if isinstance(survivor, Contact) else None,
        deal=None,
        data=data,
    )


def _lock(model: type[Company] | type[Contact], *pks: int) -> dict[int, Any]:
    qs = model.objects.select_for_update(of=("self",)).filter(pk__in=pks).order_by("pk")
    if model is Contact:
        qs = qs.select_related("company")
    return {obj.pk: obj for obj in qs}


@transaction.atomic
def records_merge(
    *,
    actor: User | None,
    survivor: Company | Contact,
    loser: Company | Contact,
    choices: dict[str, str],
    survivor_version: int | None = None,
    loser_version: int | None = None,
) -> MergeRecord:
    """Merge ``loser`` into ``survivor`` in one transaction.

    ``choices`` maps a field name to "survivor" or "loser": whose value the survivor keeps
    (fields not named keep the survivor's). Tags become the union of both. With the versions
    the merge screen showed, a record changed since raises ``VersionConflict`` (nothing merged).
    """
    kind = record_kind(survivor)
    if record_kind(loser) != kind or survivor.pk == loser.pk:
        raise ValidationError(_("Pick two different records of the same kind."))
    model = type(survivor)
    locked = _lock(model, survivor.pk, loser.pk)
    survivor, loser = locked[survivor.pk], locked[loser.pk]
    if survivor.archived_at is not None or loser.archived_at is not None:
        raise ValidationError(_("An archived or already merged record cannot be merged."))
    for record, seen in ((survivor, survivor_version), (loser, loser_version)):
        if seen is not None and record.version != seen:
            raise VersionConflict(instance=record, changes=[], changed_by=None)

    # Custom fields: the survivor's values, and the loser's where the survivor has none
    # (recorded like the chosen fields, so an undo puts them back).
    before = {name: _raw(survivor, name) for name in (*MERGE_FIELDS[kind], "custom")}
    for name, side in choices.items():
        if name in before and name != "custom" and side == "loser":
            _set_raw(survivor, name, _raw(loser, name))
    survivor.custom = {**(loser.custom or {}), **(survivor.custom or {})}
    if kind == RecordKind.CONTACT and survivor.company_id != before["company"]:
        survivor.company = Company.objects.filter(pk=survivor.company_id).first()
    survivor_tag_ids = set(survivor.tags.order_by("pk").values_list("pk", flat=True))
    added_tag_ids = sorted(set(loser.tags.values_list("pk", flat=True)) - survivor_tag_ids)

    moved: dict[str, Moved] = {}
    if kind == RecordKind.COMPANY:
        contact_ids = list(Contact.objects.filter(company=loser).order_by("pk").values_list("pk", flat=True))
        Contact.objects.filter(pk__in=contact_ids).update(company=survivor)
        moved["contacts"] = {"contacts": contact_ids}
    for handler in merge_handlers(kind):
        moved[handler.key] = handler.move(loser=loser, survivor=survivor)

    title = _("Merged %(loser)s into %(survivor)s") % {"loser": loser, "survivor": survivor}
    phone_fields = COMPANY_PHONE_FIELDS if kind == RecordKind.COMPANY else CONTACT_PHONE_FIELDS
    _normalise(survivor, phone_fields, keep_invalid_phone=True)
    survivor._change_reason = title
    _save(
        survivor,
        actor=actor,
        tags=list(Tag.objects.filter(pk__in=survivor_tag_ids | set(added_tag_ids))),
        created=False,
    )
    after = {name: _raw(survivor, name) for name in (*MERGE_FIELDS[kind], "custom")}
    changed = [name for name in before if before[name] != after[name]]

    loser.archived_at = timezone.now()
    loser.merged_into = survivor
    loser._change_reason = title
    _save(loser, actor=actor, tags=None, created=False)

    record = MergeRecord.objects.create(
        kind=kind,
        actor=actor,
        loser_name=str(loser)[:300],
        survivor_before={name: before[name] for name in changed},
        survivor_after={name: after[name] for name in changed},
        added_tag_ids=added_tag_ids,
        moved=moved,
        **{f"survivor_{kind}": survivor, f"loser_{kind}": loser},
    )
    DuplicateCandidate.objects.filter(Q(**{f"{kind}_a": loser}) | Q(**{f"{kind}_b": loser})).delete()
    _event("merge", title, actor=actor, survivor=survivor, data={"merge_id": record.pk, "loser_id": loser.pk})
    security_event_record(
        kind=SecurityEventKind.MERGE,
        user=actor,
        detail={"model": kind, "merge_id": record.pk, "kept_id": survivor.pk, "merged_id": loser.pk, "undo": False},
    )
    return record


@transaction.atomic
def merge_undo(*, actor: User | None, record: MergeRecord) -> MergeRecord:
    """Restore the loser and its field values, and move back exactly the rows the merge moved."""
    record = MergeRecord.objects.select_for_update().get(pk=record.pk)
    if not record.can_undo:
        raise ValidationError(_("This merge can no longer be undone."))
    kind = record.kind
    model = Company if kind == RecordKind.COMPANY else Contact
    survivor_id = record.survivor_company_id or record.survivor_contact_id
    loser_id = record.loser_company_id or record.loser_contact_id
    locked = _lock(model, survivor_id, loser_id)
    survivor, loser = locked[survivor_id], locked[loser_id]

    for handler in reversed(merge_handlers(kind)):
        handler.restore(loser=loser, survivor=survivor, moved=record.moved.get(handler.key, {}))
    if kind == RecordKind.COMPANY:
        contact_ids = record.moved.get("contacts", {}).get("contacts", [])
        Contact.objects.filter(pk__in=contact_ids, company=survivor).update(company=loser)

    # A field someone changed on the survivor after the merge keeps that newer value.
    for name, old in record.survivor_before.items():
        if _raw(survivor, name) == record.survivor_after.get(name):
            _set_raw(survivor, name, old)
    if kind == RecordKind.CONTACT:
        survivor.company = Company.objects.filter(pk=survivor.company_id).first()
    tag_ids = set(survivor.tags.values_list("pk", flat=True)) - set(record.added_tag_ids)
    title = _("Merge of %(loser)s into %(survivor)s undone") % {"loser": record.loser_name, "survivor": survivor}
    phone_fields = COMPANY_PHONE_FIELDS if kind == RecordKind.COMPANY else CONTACT_PHONE_FIELDS
    _normalise(survivor, phone_fields, keep_invalid_phone=True)
    survivor._change_reason = title
    _save(survivor, actor=actor, tags=list(Tag.objects.filter(pk__in=tag_ids)), created=False)

    loser.archived_at = None
    loser.merged_into = None
    loser._change_reason = title
    _save(loser, actor=actor, tags=None, created=False)

    record.undone_at = timezone.now()
    record.undone_by = actor
    record.save(update_fields=["undone_at", "undone_by"])
    _event("merge_undone", title, actor=actor, survivor=survivor, data={"merge_id": record.pk, "loser_id": loser.pk})
    security_event_record(
        kind=SecurityEventKind.MERGE,
        user=actor,
        detail={"model": kind, "merge_id": record.pk, "kept_id": survivor.pk, "merged_id": loser.pk, "undo": True},
    )
    return record


def merges_finalise(*, now: Any = None) -> int:
    """Close the undo window of merges older than ``MERGE_UNDO_DAYS`` (nightly, idempotent)."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.MERGE_UNDO_DAYS)
    return MergeRecord.objects.filter(undone_at__isnull=True, finalized_at__isnull=True, merged_at__lte=cutoff).update(
        finalized_at=now or timezone.now()
    )


def open_merges(record: Company | Contact) -> list[MergeRecord]:
    """Merges into ``record`` that can still be undone, newest first (for its page)."""
    kind = record_kind(record)
    cutoff = timezone.now() - timedelta(days=settings.MERGE_UNDO_DAYS)
    return list(
        MergeRecord.objects.filter(
            **{f"survivor_{kind}": record}, undone_at__isnull=True, finalized_at__isnull=True, merged_at__gt=cutoff
        ).select_related("actor")[:5]
    )
