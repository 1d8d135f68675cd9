"""The money of the deals each campaign created (``CampaignDealTotal``), kept by triggers on
``campaigns_dealattribution`` and ``deals_deal``.

The campaign list, page and report summed every attributed deal per request (a nested loop
over 1,100–1,400 attributions on the large benchmark dataset, 4–5 ms a page); they now read
these groups. The triggers are installed for the current TIME_ZONE (``campaigns.totals``) and
the table is filled from the existing attributions in one INSERT … SELECT.
"""

import django.db.models.deletion
from django.db import migrations, models

from campaigns import totals


def _install(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        totals.install(cursor)
        totals.rebuild(cursor)
        cursor.execute("ANALYZE campaigns_campaigndealtotal")


def _uninstall(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        for statement in totals.UNINSTALL_SQL:
            cursor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0003_drop_duplicate_indexes"),
        ("deals", "0007_add_deal_totals"),
    ]

    operations = [
        migrations.CreateModel(
            name="CampaignDealTotal",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("status", models.CharField(max_length=8)),
                ("currency", models.CharField(max_length=3)),
                ("closed_on", models.DateField(null=True)),
                ("deals", models.BigIntegerField()),
                ("amount_sum", models.DecimalField(decimal_places=2, max_digits=30)),
                (
                    "campaign",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="campaigns.campaign",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("campaign", "status", "currency", "closed_on"),
                        name="campaigndealtotal_key",
                        nulls_distinct=False,
                    )
                ],
            },
        ),
        migrations.RunPython(_install, _uninstall),
    ]
