"""Planner statistics for the month the money totals group closed deals by.

``deals.selectors.money_totals`` groups deals by currency and
``date_trunc('month', closed_at AT TIME ZONE <TIME_ZONE>)`` (Django's ``TruncMonth``). Without
statistics on that expression PostgreSQL guesses tens of thousands of groups where there are
about fifty, sorts instead of hashing and spills the sort to disk: the deal list's totals for
a rep took 87 ms at 300k deals, 42 ms with these statistics (bench/FINDINGS.md). The
expression must match the query's, so it is built from TIME_ZONE at migrate time; after a
change of TIME_ZONE the statistics simply stop applying (migrate this again to rebuild them).
"""

from django.conf import settings
from django.db import migrations


def _create(apps, schema_editor):
    zone = settings.TIME_ZONE if settings.USE_TZ else None
    if zone is None:
        return
    with schema_editor.connection.cursor() as cursor:
        literal = cursor.mogrify("%s", [zone]).decode()
        cursor.execute(
            "CREATE STATISTICS IF NOT EXISTS deal_rate_month_stats "
            f"ON (date_trunc('month', closed_at AT TIME ZONE {literal})) FROM deals_deal"
        )
        cursor.execute("ANALYZE deals_deal")


def _drop(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("DROP STATISTICS IF EXISTS deal_rate_month_stats")


class Migration(migrations.Migration):
    dependencies = [("deals", "0004_add_stage_totals_index")]

    operations = [migrations.RunPython(_create, _drop)]
