"""List rows read with ``values()`` for the pages that write their rows in Python (contacts,
companies, activities): a page of model instances built ~150 objects (the records and the
rows they join) for values each row prints once."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import ForeignKey, Model, OuterRef, QuerySet, Subquery
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


def names_by_subquery(model: type[Model], fields: Iterable[str]) -> dict[str, Subquery]:
    """The ``relation__column`` fields among ``fields`` (one hop along a foreign key of
    ``model``) as scalar subqueries by primary key, to annotate a row query with under the
    same names: ``values()`` then reads each related name from its subquery instead of
    joining the related table, and a ``NULL`` key reads ``NULL`` as the left join did.

    Why: PostgreSQL plans a prepared row query anew on every run when its parameters are
    owners or teams (their custom plans look cheaper than a generic one), and choosing the
    order of four joins over tables with many indexes cost more than running the query (the
    case list for a rep: 1.5–1.9 ms of planning for 0.7–1.2 ms of execution). With the same
    names as subqueries, each one primary-key lookup per row shown, planning and running took
    1.51 ms where the joins took 1.96 (bench/FINDINGS.md §7.19).
    """
    subqueries = {}
    for name in fields:
        relation, separator, column = name.partition("__")
        if not separator:
            continue
        field = model._meta.get_field(relation)
        if not isinstance(field, ForeignKey) or "__" in column:
            raise ValueError(f"{name}: only a column of a table {model.__name__} has a foreign key to")
        related = field.related_model._base_manager.filter(pk=OuterRef(field.attname)).order_by()
        subqueries[name] = Subquery(related.values(column))
    return subqueries
