"""Related rows read inside their parent's query, as JSON, and turned back into model
instances: a panel of a page then costs no query of its own (the company page's value card,
the deal page's line items and contacts)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import Model, QuerySet, TextField
from django.db.models.functions import Cast, JSONObject

M = TypeVar("M", bound=Model)


def json_rows(
    qs: QuerySet, *, fields: Iterable[str] | None = None, extra: Mapping[str, str] | None = None
) -> ArraySubquery:
    """``ARRAY(SELECT json_build_object(...) FROM qs)``: the model's concrete columns (or only
    ``fields``, by attname) as text, so decimals and dates come back exact, plus ``extra`` (key
    → lookup, e.g. a related name). Use it as an annotation with ``OuterRef`` in ``qs``;
    ``instances`` reads it."""
    wanted = set(fields) if fields is not None else None
    columns = {
        f.attname: Cast(f.attname, TextField())
        for f in qs.model._meta.concrete_fields
        if wanted is None or f.attname in wanted
    }
    columns.update({key: Cast(lookup, TextField()) for key, lookup in (extra or {}).items()})
    return ArraySubquery(qs.values(row=JSONObject(**columns)))


def instances(model: type[M], rows: Iterable[Mapping[str, Any]] | None) -> list[M]:
    """The ``json_rows`` of ``model`` as unsaved-looking instances (``_state.adding`` False),
    each value through its field's ``to_python``; keys that are not columns are left out."""
    fields = {f.attname: f for f in model._meta.concrete_fields}
    found = []
    for row in rows or ():
        obj = model(**{name: None if value is None else fields[name].to_python(value)
                       for name, value in row.items() if name in fields})  # fmt: skip
        obj._state.adding = False
        obj._state.db = "default"
        found.append(obj)
    return found
