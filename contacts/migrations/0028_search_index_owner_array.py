"""The contact search index's owner as an array (``ARRAY[owner_id]``): a viewer's owners are then
one ``&&`` condition and one scan of the index, not one scan per owner. Built and the old index
dropped without locking the table against writes (CONCURRENTLY: not in a transaction)."""

import django.contrib.postgres.indexes
import django.db.models.expressions
from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations

import contacts.models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("contacts", "0027_search_index_with_the_owner"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="contact",
            index=django.contrib.postgres.indexes.GinIndex(
                contacts.models.OwnerArray(),
                django.contrib.postgres.indexes.OpClass(
                    django.db.models.expressions.F("search_text"), name="gin_trgm_ops"
                ),
                gin_pending_list_limit=256,
                name="contact_owners_search_trgm",
            ),
        ),
        RemoveIndexConcurrently(
            model_name="contact",
            name="contact_owner_search_trgm",
        ),
    ]
