"""``{% crispy_fast form %}``: a crispy-forms layout written by Jinja2, for the forms every 360
page shows (the "Log an activity" card).

``{% crispy form %}`` renders each field through crispy-bootstrap5's template-language
``field.html`` and its includes: ~2.3 ms for a three-field form, on the company, contact and
deal pages. ``crm/jinja2/crm/crispy_form.html`` writes the same markup (the same classes on
each widget, labels, required stars, help text, errors, rows and columns) in a fraction of
that. It takes the layouts crispy's ``Layout`` of field names and ``Row``s of ``Column``s
build; any other layout object is refused (use ``{% crispy %}``).
"""

from __future__ import annotations

from typing import Any

from crispy_forms.layout import Column, Row
from django import forms, template
from django.conf import settings
from django.forms import BoundField
from django.utils.html import format_html
from django.utils.safestring import SafeString

from crm.jinja2 import render

register = template.Library()


def _widget_html(bf: BoundField) -> str:
    """The widget with crispy's classes (``{% crispy_field %}``): its own class name in lower
    case (CRISPY_CLASS_CONVERTERS applied), then bootstrap's, ``is-invalid`` with errors."""
    widget = bf.field.widget
    if not bf.is_hidden:
        if isinstance(widget, forms.CheckboxInput):
            bootstrap = "form-check-input"
        elif isinstance(widget, forms.Select):
            bootstrap = "form-select"
        else:
            bootstrap = "form-control"
        if bf.errors:
            bootstrap += " is-invalid"
        class_name = widget.__class__.__name__.lower()
        class_name = getattr(settings, "CRISPY_CLASS_CONVERTERS", {}).get(class_name, class_name)
        css_class = widget.attrs.get("class", "")
        if css_class:
            if css_class.find(class_name) == -1:
                css_class += f" {class_name}"
        else:
            css_class = class_name
        for name in bootstrap.split():
            if name not in css_class.split():
                css_class += f" {name}"
        widget.attrs["class"] = css_class
    return str(bf)


def _items(form: forms.BaseForm) -> list[tuple[str, Any]]:
    items: list[tuple[str, Any]] = []
    for entry in form.helper.layout.fields:
        if isinstance(entry, str):
            items.append(("field", form[entry]))
        elif isinstance(entry, Row) and all(isinstance(column, Column) for column in entry.fields):
            columns = []
            for column in entry.fields:
                if not all(isinstance(name, str) for name in column.fields):
                    raise TypeError(f"{type(form).__name__}: a column of field names only")
                classes = column.css_class or ""
                columns.append((classes if "col" in classes else f"col-md {classes}", [form[n] for n in column.fields]))
            items.append(("row", columns))
        else:
            raise TypeError(f"{type(form).__name__}: {type(entry).__name__} is not supported by crispy_fast")
    return items


@register.simple_tag(takes_context=True)
def crispy_fast(context: template.Context, form: forms.BaseForm) -> SafeString:
    """The form's fields as ``{% crispy form %}`` writes them (its helper has ``form_tag=False``)."""
    return crispy_fields(form, context.get("csrf_token"))


def crispy_fields(form: forms.BaseForm, token: str | None) -> SafeString:
    """``{% crispy_fast form %}`` with the page's CSRF token ``token``, for other tags."""
    for field in form.fields.values():
        if field.widget.use_fieldset or isinstance(field.widget, forms.FileInput):
            raise TypeError(f"{type(form).__name__}: fieldsets and file inputs are left to {{% crispy %}}")
    items = _items(form)
    widgets = {bf.name: _widget_html(bf) for kind, item in items for bf in _fields(kind, item)}
    helper = form.helper
    # As {% csrf_token %} in crispy's whole_uni_form.html.
    post = helper.form_method.lower() == "post" and not helper.disable_csrf
    return render(
        "crm/crispy_form.html",
        {
            "form": form,
            "items": items,
            "widgets": widgets,
            "checkboxes": {
                name for name, field in form.fields.items() if isinstance(field.widget, forms.CheckboxInput)
            },
            "csrf_input": csrf_input(token) if post else "",
        },
    )


def csrf_input(token: str | None) -> SafeString:
    """The hidden CSRF input ``{% csrf_token %}`` writes for the page's ``token`` (nothing
    without one)."""
    if not token or token == "NOTPROVIDED":  # noqa: S105 (Django's marker, not a secret)
        return SafeString("")
    return format_html('<input type="hidden" name="csrfmiddlewaretoken" value="{}">', token)


def _fields(kind: str, item: Any) -> list[BoundField]:
    return [item] if kind == "field" else [bf for _classes, fields in item for bf in fields]
