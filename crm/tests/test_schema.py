"""The schema as migrations leave it in PostgreSQL."""

from __future__ import annotations

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


def test_no_table_carries_the_same_index_twice():
    """Two indexes on the same columns, in the same order, with the same operator classes,
    collations, expressions and predicate cost every insert twice and serve no plan better
    (a named Meta index repeating a foreign key's own index, say)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT indrelid::regclass::text, array_agg(indexrelid::regclass::text ORDER BY indexrelid::regclass::text)
              FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
              JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()
             GROUP BY indrelid, indkey::text, indclass::text, indcollation::text, indoption::text,
                      indisunique, COALESCE(pg_get_expr(indexprs, indrelid), ''),
                      COALESCE(pg_get_expr(indpred, indrelid), '')
            HAVING count(*) > 1
            """
        )
        repeated = cursor.fetchall()
    assert repeated == []
