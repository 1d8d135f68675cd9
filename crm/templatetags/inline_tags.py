"""``{% inline_field record "phone" %}``: a field shown with its inline editor button;
``{% inline_version record %}``: the version every inline editor of the record sends."""

from __future__ import annotations

from typing import Any

from django import template
from django.template.loader import render_to_string
from django.utils.html import format_html
from django.utils.safestring import SafeString

from crm.inline import _context, dom_id, spec_for

register = template.Library()


@register.simple_tag(takes_context=True)
def inline_field(context: template.Context, record: Any, name: str, **extra: Any) -> SafeString:
    request = context["request"]
    spec = spec_for(record)
    values = _context(spec, request, record, name, **extra)
    return render_to_string("partials/inline_field.html", values, request=request)


@register.simple_tag
def inline_version(record: Any) -> SafeString:
    return format_html('<input type="hidden" name="version" id="{}" value="{}">', dom_id(record), record.version)
