"""Custom field values on record pages (``crm.custom_fields``)."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.safestring import SafeString, mark_safe

from crm import custom_fields
from crm.models import CustomFieldType

register = template.Library()


@register.inclusion_tag("partials/custom_fields.html")
def custom_fields_panel(record: Any) -> dict[str, Any]:
    """A "More details" card with every active custom field of the record's model: one query
    at most (the names behind user fields), none when the definitions are cached."""
    defs = custom_fields.fields_for(record)
    stored = getattr(record, "custom", None) or {}
    names = custom_fields.user_names(custom_fields.user_ids(defs, [stored]))
    rows = []
    for defn in defs:
        text = custom_fields.display_value(defn, stored.get(defn.key), names)
        rows.append({"label": defn.label, "text": text, "is_url": defn.field_type == CustomFieldType.URL and text,
                     "is_long": defn.field_type == CustomFieldType.LONG_TEXT})  # fmt: skip
    return {"rows": rows}


@register.simple_tag
def custom_cell(cells: custom_fields.CustomCells, row: Any, key: str) -> SafeString:
    """One custom field column's ``<td>`` (``crm.custom_fields.CustomCells`` escapes the value)."""
    return mark_safe(cells.cell(row, key))  # noqa: S308 (escaped by CustomCells.cell)
