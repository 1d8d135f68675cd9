"""What a browser posts back for a rendered form, so a test can "open" an edit form, change a
field and save it like a person would (with the hidden version the page carried)."""

from __future__ import annotations

from typing import Any


def posted_data(response: Any, **changes: Any) -> dict[str, Any]:
    """The values of the form in ``response.context["form"]`` as submitted, with ``changes``."""
    form = response.context["form"]
    data: dict[str, Any] = {}
    for name, field in form.fields.items():
        if field.disabled:
            continue
        value = form[name].value()
        if value is None or value is False:
            continue
        if value is True:
            data[name] = "on"
        elif isinstance(value, list | tuple):
            data[name] = [str(getattr(v, "pk", v)) for v in value]
        else:
            data[name] = str(getattr(value, "pk", value))
    data.update(changes)
    return data
