"""Optimistic concurrency shared by every versioned record (deals, companies, contacts, activities).

An edit form carries the ``version`` it was loaded at. The service locks the row
(``SELECT … FOR UPDATE``), and only when the locked row still has that version does it write
``version + 1`` with the change — the same outcome as ``UPDATE … WHERE version = %s``, with
the row at hand for the history record. A stale version raises ``VersionConflict`` listing,
field by field, what the other person saved, and nothing is written; the form then shows the
conflict table (``templates/partials/version_conflict.html``) with the editor's values still
in it and a hidden version set to the current one, so "Save mine anyway" is a deliberate
choice made after reading what changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext as _

M = TypeVar("M", bound=models.Model)


@dataclass(frozen=True)
class FieldChange:
    field: str
    label: str
    yours: str
    theirs: str


class VersionConflict(Exception):
    """The record changed since the editor loaded it; nothing was saved."""

    def __init__(self, *, instance: models.Model, changes: list[FieldChange], changed_by: Any) -> None:
        super().__init__(f"{type(instance).__name__} {instance.pk} changed since the version edited")
        self.instance = instance
        self.changes = changes
        self.changed_by = changed_by

    @property
    def version(self) -> int:
        return self.instance.version


def parse_version(value: object) -> int | None:
    """A submitted version: ASCII digits in range. Absent: ``None`` (no check). Malformed: 0,
    which no saved row has (versions start at 1), so the save is answered as a conflict."""
    text = str(value or "").strip()
    if not text:
        return None
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        return 0
    return int(text)


def display_value(model: type[models.Model], field: str, value: Any) -> str:
    """A field value as a person reads it in the conflict table."""
    if isinstance(value, models.Model):
        return str(value)
    if value is None or value == "" or value == [] or value == ():
        return "—"
    model_field = model._meta.get_field(field)
    if getattr(model_field, "choices", None):
        return str(dict(model_field.flatchoices).get(value, value))
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, list | tuple | set | models.QuerySet):
        return ", ".join(str(v) for v in value) or "—"
    return str(value)


def _comparable(value: Any) -> Any:
    return getattr(value, "pk", value)


def changes_since(
    *,
    current: models.Model,
    version: int,
    fields: Iterable[str],
    submitted: Mapping[str, Any],
    history: Any = None,
) -> tuple[list[FieldChange], Any]:
    """What changed between ``version`` (what the editor loaded) and ``current`` (locked now).

    With a history manager that recorded the loaded version, the fields whose saved value
    changed since then are listed. Without one (or when that version is not in the history),
    the fields where the editor's value differs from the saved one are listed.
    Returns the changes and, when the history knows it, who saved last.
    """
    model = type(current)
    seen = latest = None
    if history is not None:
        seen = history.filter(version=version).order_by("-history_date").first()
        latest = history.order_by("-history_date").select_related("history_user").first()
    changes = []
    for field in fields:
        model_field = model._meta.get_field(field)
        if model_field.many_to_many:
            continue  # many-to-many values are not in the history row
        attname = model_field.attname
        now_value = getattr(current, attname)
        if seen is not None:
            differs = getattr(seen, attname) != now_value
        else:
            differs = field in submitted and _comparable(submitted[field]) != now_value
        if differs:
            shown = getattr(current, field) if model_field.is_relation else now_value
            changes.append(
                FieldChange(
                    field=field,
                    label=str(model_field.verbose_name),
                    yours=display_value(model, field, submitted.get(field)),
                    theirs=display_value(model, field, shown),
                )
            )
    return changes, (latest.history_user if latest is not None else None)


def lock_versioned(
    instance: M,
    *,
    version: int | None,
    fields: Iterable[str] = (),
    submitted: Mapping[str, Any] | None = None,
    history: str | None = None,
) -> M:
    """Lock the row of ``instance``, reload it, and check it is still at ``version``.

    The caller runs inside ``transaction.atomic``, changes the (now current) instance and saves
    it with ``bump``. ``version=None`` skips the check (for writers that hold no stale copy:
    a "done" toggle, a reschedule, an archive). ``fields`` are those the editor could change,
    ``submitted`` their values, ``history`` the name of the simple-history manager, if any.
    """
    # No joins in the locking query: when PostgreSQL re-checks a row that a concurrent
    # transaction just updated, an outer join can make the row vanish.
    model = type(instance)
    instance.refresh_from_db(from_queryset=model._base_manager.select_for_update(of=("self",)))
    if version is not None and instance.version != version:
        manager = getattr(instance, history) if history else None
        changes, changed_by = changes_since(
            current=instance, version=version, fields=fields, submitted=submitted or {}, history=manager
        )
        raise VersionConflict(instance=instance, changes=changes, changed_by=changed_by)
    return instance


def bump(instance: models.Model) -> None:
    """Next version of a locked row (the caller then saves it)."""
    instance.version = (instance.version or 0) + 1


class VersionedAdminForm(forms.ModelForm):
    """A Django admin change form that carries the version it loaded (``loaded_version``): a
    save on top of someone else's newer save is refused with a message instead of undoing it.
    The admin's ``save_model`` then writes ``version + 1`` (``bump``)."""

    loaded_version = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["loaded_version"].initial = self.instance.version

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        loaded = parse_version(cleaned.get("loaded_version"))
        model = type(self.instance)
        if self.instance.pk and loaded is not None:
            current = model._base_manager.filter(pk=self.instance.pk).values_list("version", flat=True).first()
            if current != loaded:
                raise ValidationError(
                    _("Someone else saved this record after you opened it. Reload the page to see it.")
                )
        return cleaned
