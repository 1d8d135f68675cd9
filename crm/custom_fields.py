"""Custom fields: fields admins define on companies, contacts, deals and cases.

Definitions are ``crm.models.CustomField`` rows (Django admin, or Settings → Custom fields).
Values live in each model's ``custom`` JSONB column, keyed by the field's ``key``, as JSON
values that compare correctly inside PostgreSQL:

============  ======================================  =========================================
type          stored as                               filter (index that answers it)
============  ======================================  =========================================
text, URL     string                                  ``eq`` (GIN ``custom jsonb_path_ops``)
long text     string                                  none
number        JSON number                             ``eq`` (GIN), ``gte``/``lte`` (expression)
money         JSON number, base currency, 2 places    ``eq`` (GIN), ``gte``/``lte`` (expression)
date          ``"YYYY-MM-DD"``                        ``eq`` (GIN), ``gte``/``lte`` (expression)
yes/no        ``true`` / ``false``                    ``eq`` (GIN)
one choice    string (one of the choices)             ``eq`` (GIN)
several       list of strings                         ``contains`` one of them (GIN)
user          user id                                 ``eq`` (GIN)
============  ======================================  =========================================

An empty value is no key at all (never JSON ``null``), so ``isnull`` is "the key is absent".
Every table with a ``custom`` column has a GIN ``jsonb_path_ops`` index (containment, ``@>``);
saving a number, money or date field creates a btree index on ``(custom -> 'key')`` for its
range filters (``custom_field_ensure_index``). Each index is named ``cf_<table>_<key>``.

Public helpers (used by the lists, forms, API, import/export, and by reports later):

- ``fields_for(model)`` → the active ``FieldDef``s of a model (class, instance or
  ``"app_label.model"``), in order; cached, no query on a warm cache.
- ``field_for(model, key)`` → one ``FieldDef`` or ``None``.
- ``filter_queryset(qs, field, op, value)`` → ``qs`` filtered on one field (``op``: ``eq``,
  ``contains``, ``gte``, ``lte``, ``isnull``); ``value`` is a stored (JSON) value.
- ``group_expression(field)`` → an expression of the stored value to ``values()``/group a
  queryset by (e.g. a report grouped by a choice field: ``qs.values(region=group_expression(f))``).
- ``clean_values(model, data, *, user=None, current=None)`` → validated values to store
  (raises ``ValidationError`` keyed by field key); what the API and the import use.
- ``display_value(field, value, user_names)`` → the text a page or export shows.
- ``CustomFieldsFormMixin`` → adds ``cf_<key>`` fields to a model form; ``custom_values()``.
- ``filter_form_fields(model)`` / ``apply_filter_data(qs, model, cleaned_data)`` → list filters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from django import forms
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection, models, transaction
from django.db.models import signals
from django.db.models.fields.json import KeyTextTransform, KeyTransform
from django.utils.translation import gettext as _

from crm import request_memo
from crm.models import CustomField, CustomFieldType, User, users_visible_to

FIELD_PREFIX = "cf_"
RANGE_TYPES = {CustomFieldType.NUMBER, CustomFieldType.MONEY, CustomFieldType.DATE}
# Types a list can filter on (long text is for reading, not for finding).
FILTER_TYPES = {t for t in CustomFieldType.values if t != CustomFieldType.LONG_TEXT}
_CACHE_KEY = "crm:custom-fields:v1"
MAX_TEXT = 255
MAX_LONG_TEXT = 5000


@dataclass(frozen=True)
class FieldDef:
    """One active custom field, as cached (no model instance: nothing to query later)."""

    id: int
    model: str
    key: str
    label: str
    field_type: str
    help_text: str = ""
    required: bool = False
    choices: tuple[str, ...] = field(default_factory=tuple)
    position: int = 0

    @property
    def form_name(self) -> str:
        return f"{FIELD_PREFIX}{self.key}"

    @property
    def is_range(self) -> bool:
        return self.field_type in RANGE_TYPES

    @property
    def filterable(self) -> bool:
        return self.field_type in FILTER_TYPES


def model_label(model: Any) -> str:
    """``"contacts.company"`` for the model class, an instance or the label itself."""
    if isinstance(model, str):
        return model
    return model._meta.label_lower


def _all_fields() -> dict[str, list[FieldDef]]:
    # Once per request: a list page asks for them for its filter form, columns and rows.
    return request_memo.remember(_CACHE_KEY, _read_fields)


def _read_fields() -> dict[str, list[FieldDef]]:
    cached = cache.get(_CACHE_KEY)
    if cached is None:
        cached = {}
        for row in CustomField.objects.filter(is_active=True).order_by("model", "position", "id"):
            cached.setdefault(row.model, []).append(
                FieldDef(
                    id=row.pk,
                    model=row.model,
                    key=row.key,
                    label=row.label,
                    field_type=row.field_type,
                    help_text=row.help_text,
                    required=row.required,
                    choices=tuple(str(c) for c in row.choices or ()),
                    position=row.position,
                )
            )
        cache.set(_CACHE_KEY, cached, 3600)
    return cached


def forget_definitions() -> None:
    """Drop the cached definitions (after any change to a ``CustomField``)."""
    cache.delete(_CACHE_KEY)
    request_memo.forget(_CACHE_KEY)


def fields_for(model: Any) -> list[FieldDef]:
    """The active custom fields of ``model`` in their order."""
    return list(_all_fields().get(model_label(model), ()))


def field_for(model: Any, key: str) -> FieldDef | None:
    return next((f for f in fields_for(model) if f.key == key), None)


# --- Indexes ------------------------------------------------------------------------------


def _table(model: str) -> str:
    from django.apps import apps

    return apps.get_model(model)._meta.db_table


def index_name(model: str, key: str) -> str:
    return f"cf_{_table(model)}_{key}"[:63]


def custom_field_ensure_index(*, field: CustomField | FieldDef) -> str | None:
    """Create the btree expression index a range filter of ``field`` uses (number, money,
    date); concurrently when not inside a transaction, so a large table stays writable."""
    if field.field_type not in RANGE_TYPES:
        return None
    name = index_name(field.model, field.key)
    quote = connection.ops.quote_name
    # ``key`` matches ^[a-z][a-z0-9_]*$ (a check constraint), so it is safe inside the literal.
    concurrently = "" if connection.in_atomic_block else "CONCURRENTLY "
    sql = (
        f"CREATE INDEX {concurrently}IF NOT EXISTS {quote(name)} "
        f"ON {quote(_table(field.model))} (({quote('custom')} -> '{field.key}'))"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql)
    return name


# --- Values -------------------------------------------------------------------------------

_YES, _NO = "true", "false"


def form_field(defn: FieldDef, *, user: User | None = None, for_filter: bool = False) -> forms.Field:
    """The Django form field that validates ``defn`` (its ``clean()`` gives the Python value)."""
    kwargs: dict[str, Any] = {
        "label": defn.label,
        "help_text": "" if for_filter else defn.help_text,
        "required": defn.required and not for_filter,
    }
    kind = defn.field_type
    if kind == CustomFieldType.TEXT:
        return forms.CharField(max_length=MAX_TEXT, **kwargs)
    if kind == CustomFieldType.LONG_TEXT:
        return forms.CharField(max_length=MAX_LONG_TEXT, widget=forms.Textarea(attrs={"rows": 3}), **kwargs)
    if kind == CustomFieldType.NUMBER:
        return forms.DecimalField(max_digits=18, decimal_places=6, **kwargs)
    if kind == CustomFieldType.MONEY:
        return forms.DecimalField(max_digits=15, decimal_places=2, **kwargs)
    if kind == CustomFieldType.DATE:
        return forms.DateField(widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"), **kwargs)
    if kind == CustomFieldType.BOOLEAN:
        empty = _("Any") if for_filter else "—"
        return forms.ChoiceField(choices=[("", empty), (_YES, _("Yes")), (_NO, _("No"))], **kwargs)
    if kind == CustomFieldType.CHOICE:
        empty = _("Any") if for_filter else "—"
        return forms.ChoiceField(choices=[("", empty), *((c, c) for c in defn.choices)], **kwargs)
    if kind == CustomFieldType.MULTI_CHOICE:
        if for_filter:
            return forms.ChoiceField(choices=[("", _("Any")), *((c, c) for c in defn.choices)], **kwargs)
        return forms.MultipleChoiceField(
            choices=[(c, c) for c in defn.choices], widget=forms.CheckboxSelectMultiple, **kwargs
        )
    if kind == CustomFieldType.USER:
        queryset = users_visible_to(user) if user is not None else User.objects.filter(is_active=True)
        return forms.ModelChoiceField(queryset=queryset, empty_label=_("Anyone") if for_filter else "—", **kwargs)
    if kind == CustomFieldType.URL:
        return forms.URLField(max_length=500, assume_scheme="https", **kwargs)
    raise ValueError(f"unknown custom field type {kind!r}")


def to_stored(defn: FieldDef, value: Any) -> Any:
    """A cleaned form value as stored in the JSONB column; ``None`` for "no value"."""
    if value in (None, "", [], ()):
        return None
    kind = defn.field_type
    if kind in (CustomFieldType.NUMBER, CustomFieldType.MONEY):
        number = Decimal(value)
        if kind == CustomFieldType.MONEY:
            number = number.quantize(Decimal("0.01"))
        return int(number) if number == number.to_integral_value() else float(number)
    if kind == CustomFieldType.DATE:
        return value.isoformat()
    if kind == CustomFieldType.BOOLEAN:
        return value == _YES
    if kind == CustomFieldType.MULTI_CHOICE:
        return [c for c in defn.choices if c in set(value)]  # in the field's order, no repeats
    if kind == CustomFieldType.USER:
        return value.pk
    return str(value)


def to_form(defn: FieldDef, stored: Any) -> Any:
    """A stored value as a form's initial value."""
    if stored is None:
        return None
    kind = defn.field_type
    if kind == CustomFieldType.BOOLEAN:
        return _YES if stored is True else _NO if stored is False else None
    if kind in (CustomFieldType.NUMBER, CustomFieldType.MONEY):
        return Decimal(str(stored))
    return stored


def _raw_input(defn: FieldDef, value: Any) -> Any:
    """An API or import value as the form field expects it (the import gives text, the API JSON)."""
    if value is None:
        return ""
    kind = defn.field_type
    if kind == CustomFieldType.BOOLEAN:
        if isinstance(value, bool):
            return _YES if value else _NO
        text = str(value).strip().lower()
        if text in ("yes", "y", "true", "1", "да", "是"):
            return _YES
        if text in ("no", "n", "false", "0", "нет", "否"):
            return _NO
        return text
    if kind == CustomFieldType.MULTI_CHOICE:
        if isinstance(value, list | tuple):
            return [str(v) for v in value]
        return [part.strip() for part in str(value).replace(";", ",").split(",") if part.strip()]
    if kind == CustomFieldType.USER and isinstance(value, str) and not value.strip().isdecimal():
        return value  # a username: looked up in clean_values
    return value if isinstance(value, list) else str(value)


def clean_values(
    model: Any, data: dict[str, Any], *, user: User | None = None, current: dict[str, Any] | None = None
) -> dict[str, Any]:
    """``current`` (the record's stored values) with ``data`` (key → raw value, as the API or an
    import gives them) validated and applied; keys absent from ``data`` keep their value.
    Unknown keys and invalid values raise ``ValidationError({key: [messages]})``; a required
    field left empty on a new record (``current`` is None) too."""
    from crm.forms import strict_field

    defs = {d.key: d for d in fields_for(model)}
    errors: dict[str, list[str]] = {}
    result = dict(current or {})
    for key in data:
        if key not in defs:
            errors[key] = [_("Unknown custom field.")]
    check = list(defs.values()) if current is None else [defs[k] for k in data if k in defs]
    for defn in check:
        raw = _raw_input(defn, data.get(defn.key))
        if defn.field_type == CustomFieldType.USER and isinstance(raw, str) and raw and not raw.isdecimal():
            found = User.objects.filter(username__iexact=raw, is_active=True).values_list("pk", flat=True).first()
            raw = str(found) if found else raw
        form_f = form_field(defn, user=user)
        strict_field(form_f)
        try:
            value = to_stored(defn, form_f.clean(raw))
        except ValidationError as exc:
            errors[defn.key] = list(exc.messages)
            continue
        if value is None:
            result.pop(defn.key, None)
        else:
            result[defn.key] = value
    if errors:
        raise ValidationError(errors)
    return result


def user_names(ids: set[int]) -> dict[int, str]:
    """Names of the users behind user fields' values: one query for a whole page."""
    if not ids:
        return {}
    return {u.pk: str(u) for u in User.objects.filter(pk__in=ids).only("id", "username", "first_name", "last_name")}


def user_ids(defs: list[FieldDef], values: list[dict[str, Any] | None]) -> set[int]:
    keys = [d.key for d in defs if d.field_type == CustomFieldType.USER]
    return {v[k] for v in values if v for k in keys if isinstance(v.get(k), int)}


def display_value(defn: FieldDef, stored: Any, names: dict[int, str] | None = None) -> str:
    """The text shown for a stored value ("" for none)."""
    if stored is None or stored == "" or stored == []:
        return ""
    kind = defn.field_type
    if kind == CustomFieldType.BOOLEAN:
        return _("Yes") if stored else _("No")
    if kind == CustomFieldType.MULTI_CHOICE:
        return ", ".join(str(v) for v in stored) if isinstance(stored, list) else str(stored)
    if kind == CustomFieldType.MONEY:
        try:
            return f"{Decimal(str(stored)).quantize(Decimal('0.01')):,}"
        except InvalidOperation:
            return str(stored)
    if kind == CustomFieldType.USER:
        return (names or {}).get(stored, _("(user #%(id)s)") % {"id": stored})
    return str(stored)


def display_values(
    model: Any, stored: dict[str, Any] | None, names: dict[int, str] | None = None
) -> list[tuple[FieldDef, str]]:
    """Every active field of ``model`` with the text shown for the record's value."""
    stored = stored or {}
    return [(d, display_value(d, stored.get(d.key), names)) for d in fields_for(model)]


# --- Querying -----------------------------------------------------------------------------

OPS = ("eq", "contains", "gte", "lte", "isnull")


def filter_queryset(qs: models.QuerySet, field: FieldDef | str, op: str, value: Any) -> models.QuerySet:
    """``qs`` narrowed to records whose custom ``field`` (a ``FieldDef`` or key) matches.

    ``eq`` and ``contains`` are JSONB containment (``custom @> {"key": value}``: the GIN index);
    ``gte``/``lte`` compare ``custom -> 'key'`` (the field's btree expression index);
    ``isnull`` with ``True`` keeps records without a value, with ``False`` those with one.
    ``value`` is a stored value (see the table above), e.g. ``"2026-06-30"`` for a date.
    """
    key = field.key if isinstance(field, FieldDef) else field
    if op == "eq":
        return qs.filter(custom__contains={key: value})
    if op == "contains":
        return qs.filter(custom__contains={key: [value]})
    if op in ("gte", "lte"):
        return qs.filter(**{f"custom__{key}__{op}": value})
    if op == "isnull":
        return qs.exclude(custom__has_key=key) if value else qs.filter(custom__has_key=key)
    raise ValueError(f"unknown operator {op!r}")


def group_expression(field: FieldDef | str) -> KeyTextTransform:
    """The stored value of ``field`` as text, to group or order a queryset by."""
    key = field.key if isinstance(field, FieldDef) else field
    return KeyTextTransform(key, "custom")


def sort_expression(field: FieldDef | str) -> KeyTransform:
    """The stored value as JSONB (numbers order as numbers); what the expression index holds."""
    key = field.key if isinstance(field, FieldDef) else field
    return KeyTransform(key, "custom")


# --- Forms --------------------------------------------------------------------------------


class CustomFieldsFormMixin:
    """For a ``ModelForm`` of a model with a ``custom`` column: adds a ``cf_<key>`` field per
    active custom field (after the model's own), filled from the record. ``custom_values()``
    gives the column's new value: the record's values (inactive fields' kept) with the form's."""

    custom_model: str = ""
    fields: dict[str, forms.Field]
    instance: Any

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from crm.forms import strict_field

        user = getattr(self, "user", None) or kwargs.get("user")
        self.custom_defs = fields_for(self.custom_model) if not getattr(self, "is_quick", False) else []
        stored = getattr(self.instance, "custom", None) or {}
        for defn in self.custom_defs:
            form_f = form_field(defn, user=user)
            form_f.initial = to_form(defn, stored.get(defn.key))
            strict_field(form_f)
            self.fields[defn.form_name] = form_f

    @property
    def custom_field_names(self) -> list[str]:
        return [d.form_name for d in self.custom_defs]

    def custom_values(self) -> dict[str, Any]:
        result = dict(getattr(self.instance, "custom", None) or {})
        for defn in self.custom_defs:
            value = to_stored(defn, self.cleaned_data.get(defn.form_name))
            if value is None:
                result.pop(defn.key, None)
            else:
                result[defn.key] = value
        return result


# --- List filters -------------------------------------------------------------------------


def filter_form_fields(model: Any, *, user: User | None = None) -> dict[str, forms.Field]:
    """Filter fields of a list form for ``model``'s custom fields: ``cf_<key>`` (equality, or
    one of several choices), or ``cf_<key>_from`` / ``cf_<key>_to`` for number, money, date."""
    result: dict[str, forms.Field] = {}
    for defn in fields_for(model):
        if not defn.filterable:
            continue
        if defn.is_range:
            low = form_field(defn, user=user, for_filter=True)
            high = form_field(defn, user=user, for_filter=True)
            low.label = _("%(label)s from") % {"label": defn.label}
            high.label = _("%(label)s to") % {"label": defn.label}
            result[f"{defn.form_name}_from"], result[f"{defn.form_name}_to"] = low, high
        else:
            result[defn.form_name] = form_field(defn, user=user, for_filter=True)
    return result


def filter_values(model: Any, cleaned: dict[str, Any]) -> list[tuple[FieldDef, str, Any]]:
    """(field, op, stored value) of the custom filters set in a list form's cleaned data."""
    result = []
    for defn in fields_for(model):
        if not defn.filterable:
            continue
        if defn.is_range:
            for suffix, op in (("_from", "gte"), ("_to", "lte")):
                value = to_stored(defn, cleaned.get(f"{defn.form_name}{suffix}"))
                if value is not None:
                    result.append((defn, op, value))
            continue
        value = cleaned.get(defn.form_name)
        if value in (None, ""):
            continue
        if defn.field_type == CustomFieldType.MULTI_CHOICE:
            result.append((defn, "contains", value))
        else:
            result.append((defn, "eq", to_stored(defn, value)))
    return result


def apply_filters(qs: models.QuerySet, filters: list[tuple[FieldDef, str, Any]]) -> models.QuerySet:
    for defn, op, value in filters:
        qs = filter_queryset(qs, defn, op, value)
    return qs


def history_changes(
    model: Any, old: dict | None, new: dict | None, names: dict[int, str] | None = None
) -> list[tuple[str, str, str]]:
    """(label, old text, new text) of each custom field that differs between two versions."""
    old, new = old or {}, new or {}
    changes = []
    for defn in fields_for(model):
        before, after = old.get(defn.key), new.get(defn.key)
        if before != after:
            changes.append(
                (defn.label, display_value(defn, before, names) or "—", display_value(defn, after, names) or "—")
            )
    return changes


# --- Keeping the cache and the indexes in step with the definitions -------------------------


def _definition_saved(sender: type[CustomField], instance: CustomField, **kwargs: Any) -> None:
    forget_definitions()
    transaction.on_commit(forget_definitions)  # a reader may have cached the old rows meanwhile
    if instance.is_active and instance.field_type in RANGE_TYPES:
        # After the commit: outside a transaction the index is built concurrently.
        transaction.on_commit(lambda: custom_field_ensure_index(field=instance))


def _definition_deleted(sender: type[CustomField], instance: CustomField, **kwargs: Any) -> None:
    forget_definitions()
    transaction.on_commit(forget_definitions)


signals.post_save.connect(_definition_saved, sender=CustomField, dispatch_uid="crm_custom_field_saved")
signals.post_delete.connect(_definition_deleted, sender=CustomField, dispatch_uid="crm_custom_field_deleted")


# --- List columns ---------------------------------------------------------------------------


class CustomCell(NamedTuple):
    kind: str  # the field's CustomFieldType
    text: str  # the value as shown, unescaped


class CustomCells:
    """The custom field columns of a page of list rows (``ListRow``s or instances with
    ``custom``), for the row templates' ``custom_cell`` (``crm/jinja2/crm/cells.html``): the
    definitions read once, the names behind user fields in one query."""

    def __init__(self, model: Any, columns: list[str], rows: list[Any]) -> None:
        wanted = {key.removeprefix(FIELD_PREFIX) for key in columns if key.startswith(FIELD_PREFIX)}
        self.defs = {d.form_name: d for d in fields_for(model) if d.key in wanted}
        users = [d for d in self.defs.values() if d.field_type == CustomFieldType.USER]
        self.names = user_names(user_ids(users, [getattr(row, "custom", None) for row in rows])) if users else {}

    def shown(self, row: Any, key: str) -> CustomCell | None:
        """The cell of column ``key`` on ``row``; None for a field since made inactive."""
        defn = self.defs.get(key)
        if defn is None:
            return None
        stored = (getattr(row, "custom", None) or {}).get(defn.key)
        return CustomCell(defn.field_type, display_value(defn, stored, self.names))


def list_columns(model: Any) -> list[tuple[str, str]]:
    """(column key, label) of the custom fields a list may show: ``cf_<key>``."""
    return [(d.form_name, d.label) for d in fields_for(model)]


def export_value(defn: FieldDef, stored: Any, usernames: dict[int, str]) -> str:
    """A stored value as an export cell the import reads back."""
    if stored is None:
        return ""
    if defn.field_type == CustomFieldType.BOOLEAN:
        return "yes" if stored else "no"
    if defn.field_type == CustomFieldType.MULTI_CHOICE:
        return ", ".join(str(v) for v in stored) if isinstance(stored, list) else str(stored)
    if defn.field_type == CustomFieldType.USER:
        return usernames.get(stored, "")
    return str(stored)


def all_user_names() -> dict[int, str]:
    """Usernames of every user (exports write users by username, which the import reads)."""
    return dict(User.objects.values_list("pk", "username"))
