"""Running money totals of the deals (``DealTotal``), kept by triggers on ``deals_deal``.

The deal list's and the board's totals summed every matching deal per currency and rate month
(60k–300k rows per request, bench/FINDINGS.md §5.9); they now read these groups. The triggers
are installed for the current TIME_ZONE (``deals.totals``) and the table is filled from the
existing deals in one INSERT … SELECT (about a second at 300k deals).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from deals import totals


def _install(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        totals.install(cursor)
        totals.rebuild(cursor)
        cursor.execute("ANALYZE deals_dealtotal")


def _uninstall(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        for statement in totals.UNINSTALL_SQL:
            cursor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("deals", "0006_add_owner_stale_index"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="DealTotal",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("status", models.CharField(max_length=8)),
                ("currency", models.CharField(max_length=3)),
                ("rate_month", models.DateField(null=True)),
                ("count", models.BigIntegerField()),
                ("amount_sum", models.DecimalField(decimal_places=2, max_digits=30)),
                ("weighted_sum", models.DecimalField(decimal_places=2, max_digits=30)),
                (
                    "owner",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "pipeline",
                    models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="deals.pipeline",
                    ),
                ),
                (
                    "stage",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="deals.stage",
                    ),
                ),
            ],
            options={
                "verbose_name": "deal total",
                "verbose_name_plural": "deal totals",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("owner", "pipeline", "stage", "status", "currency", "rate_month"),
                        name="dealtotal_key",
                        nulls_distinct=False,
                    )
                ],
            },
        ),
        migrations.RunPython(_install, _uninstall),
    ]
