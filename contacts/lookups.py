"""``field__trgm_icontains="x"``: case-insensitive substring match as ``col ILIKE '%x%'``.

Django's ``icontains`` compiles to ``UPPER(col) LIKE UPPER(…)``, which the GIN trigram
indexes on the plain columns cannot answer; ``ILIKE`` on the column can, so searches over a
million rows use the index instead of reading the table.
"""

from __future__ import annotations

from django.db.models import CharField, TextField
from django.db.models.lookups import PatternLookup


@CharField.register_lookup
class TrigramIContains(PatternLookup):
    lookup_name = "trgm_icontains"

    def as_sql(self, compiler, connection):
        lhs_sql, lhs_params = self.process_lhs(compiler, connection)
        rhs_sql, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs_sql} ILIKE {rhs_sql}", (*lhs_params, *rhs_params)


@TextField.register_lookup
class LowerContains(PatternLookup):
    """``field__lower_contains="x"``: ``col LIKE lower('%x%')`` on a column kept in lower case
    (``Contact.search_text``). PostgreSQL lower-cases the word as it lower-cased the column, and
    its trigram index answers the ``LIKE``; wildcards in the word are escaped as for ``contains``."""

    lookup_name = "lower_contains"

    def as_sql(self, compiler, connection):
        lhs_sql, lhs_params = self.process_lhs(compiler, connection)
        rhs_sql, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs_sql} LIKE lower({rhs_sql})", (*lhs_params, *rhs_params)
