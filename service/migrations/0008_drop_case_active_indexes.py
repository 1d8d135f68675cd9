"""The queue tabs read ``service_casequeuetotal`` now (0007): the two partial indexes of the
active cases that their counts scanned serve no query any more, and every case write kept
them. Dropped without locking the table (``DROP INDEX CONCURRENTLY``: not in a transaction)."""

from django.contrib.postgres.operations import RemoveIndexConcurrently
from django.db import migrations


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("service", "0007_add_case_queue_totals"),
    ]

    operations = [
        RemoveIndexConcurrently(model_name="case", name="case_active_team"),
        RemoveIndexConcurrently(model_name="case", name="case_active_assignee"),
    ]
