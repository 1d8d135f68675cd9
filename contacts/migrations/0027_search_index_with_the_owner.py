"""The contact search's trigram index with the owner beside it (btree_gin), built and the old
one dropped without locking the table against writes (CONCURRENTLY: not in a transaction)."""

import django.contrib.postgres.indexes
from django.contrib.postgres.operations import AddIndexConcurrently, BtreeGinExtension, RemoveIndexConcurrently
from django.db import migrations


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("contacts", "0026_drop_duplicate_indexes"),
    ]

    operations = [
        BtreeGinExtension(),
        AddIndexConcurrently(
            model_name="contact",
            index=django.contrib.postgres.indexes.GinIndex(
                fields=["owner", "search_text"],
                gin_pending_list_limit=256,
                name="contact_owner_search_trgm",
                opclasses=["int8_ops", "gin_trgm_ops"],
            ),
        ),
        RemoveIndexConcurrently(
            model_name="contact",
            name="contact_search_trgm",
        ),
    ]
