import django.contrib.postgres.indexes
from django.db import migrations, models


class Migration(migrations.Migration):
    """The contact match-key index gets a 64 kB pending list. Django would drop and rebuild
    the index to change a storage parameter; ``ALTER INDEX … SET`` changes it in place."""

    dependencies = [
        ("contacts", "0018_add_name_frequency"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    "ALTER INDEX contact_dedupe_keys SET (gin_pending_list_limit = 64)",
                    "ALTER INDEX contact_dedupe_keys RESET (gin_pending_list_limit)",
                ),
            ],
            state_operations=[
                migrations.RemoveIndex(model_name="contact", name="contact_dedupe_keys"),
                migrations.AddIndex(
                    model_name="contact",
                    index=django.contrib.postgres.indexes.GinIndex(
                        condition=models.Q(("archived_at__isnull", True)),
                        fields=["dedupe_keys"],
                        gin_pending_list_limit=64,
                        name="contact_dedupe_keys",
                    ),
                ),
            ],
        ),
    ]
