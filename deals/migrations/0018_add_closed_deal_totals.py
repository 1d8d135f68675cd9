"""The closed deals' money of every owner together (``ClosedDealTotal``), kept by triggers on
``deals_deal`` (``deals.totals``): an admin's unfiltered deal list reads these few hundred
groups and the open deals' ``DealTotal`` rows instead of ~10,000 per-owner groups. Filled from
the closed deals in one INSERT … SELECT.
"""

import django.db.models.deletion
from django.db import migrations, models

from deals import totals


def _install(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        totals.CLOSED_ROLLUP.install(cursor)
        totals.CLOSED_ROLLUP.rebuild(cursor)
        cursor.execute("ANALYZE deals_closeddealtotal")


def _uninstall(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        for statement in totals.CLOSED_UNINSTALL_SQL:
            cursor.execute(statement)


class Migration(migrations.Migration):

    dependencies = [
        ('deals', '0017_add_deal_title_cjk_bigram_index'),
    ]

    operations = [
        migrations.CreateModel(
            name='ClosedDealTotal',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('status', models.CharField(max_length=8)),
                ('currency', models.CharField(max_length=3)),
                ('rate_month', models.DateField(null=True)),
                ('count', models.BigIntegerField()),
                ('amount_sum', models.DecimalField(decimal_places=2, max_digits=30)),
                ('weighted_sum', models.DecimalField(decimal_places=2, max_digits=30)),
                ('pipeline', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='deals.pipeline')),
                ('stage', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='deals.stage')),
            ],
            options={
                'verbose_name': 'closed deal total',
                'verbose_name_plural': 'closed deal totals',
                'constraints': [models.UniqueConstraint(fields=('pipeline', 'stage', 'status', 'currency', 'rate_month'), name='closeddealtotal_key', nulls_distinct=False)],
            },
        ),
        migrations.AddIndex(
            model_name="dealtotal",
            index=models.Index(fields=["status"], name="dealtotal_status"),
        ),
        migrations.RunPython(_install, _uninstall),
    ]
