"""``{% attachments_panel record %}``: a record's files with the upload drop zone, for the
detail pages of every app that registered its model (``contacts.attachments``)."""

from __future__ import annotations

from typing import Any

from django import template
from django.db.models import Model

from contacts.attachments import attachable_for, record_attachments

register = template.Library()


@register.inclusion_tag("contacts/partials/attachments.html", takes_context=True)
def attachments_panel(context: template.Context, record: Model, can_edit: bool | None = None) -> dict[str, Any]:
    """``can_edit``: whether the viewer may add and remove files (the page knows; by default
    whether they may change the record's owner's records)."""
    user = context["request"].user
    if can_edit is None:
        owner_id = getattr(record, "owner_id", None)
        can_edit = user.can_edit_owner(owner_id)
    return {
        "request": context["request"],
        "csrf_token": context.get("csrf_token"),
        "record": record,
        "kind": attachable_for(type(record)).kind,
        "attachments": record_attachments(record),
        "can_edit": can_edit,
    }
