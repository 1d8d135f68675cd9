"""List rows read with ``values()`` for the pages that write their rows in Python (contacts,
companies, activities): a page of model instances built ~150 objects (the records and the
rows they join) for values each row prints once."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.db.models.query import ValuesIterable


class ListRow(dict):
    """One list row as read by ``values()``, with attribute access for the row renderers, the
    keyset cursors and ``can_edit``."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    __setattr__ = dict.__setitem__

    def __missing__(self, key: str) -> Any:
        if key == "pk":
            return self["id"]
        raise KeyError(key)

    @property
    def pk(self) -> int:
        return self["id"]


class _ListRowIterable(ValuesIterable):
    def __iter__(self):
        return map(ListRow, super().__iter__())


def list_rows(qs: QuerySet, fields: tuple[str, ...]) -> QuerySet:
    """``qs`` yielding ``ListRow``s of ``fields`` (filters, annotations and slicing still apply)."""
    rows = qs.values(*fields)
    rows._iterable_class = _ListRowIterable
    return rows
