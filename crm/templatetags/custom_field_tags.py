"""Custom field values on record pages (``crm.custom_fields``)."""

from __future__ import annotations

from typing import Any

from django import template

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
