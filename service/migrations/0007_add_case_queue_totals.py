"""Active cases per queue, assignee and SLA state (``CaseQueueTotal``), kept by triggers on
``service_case`` (``service.totals``): the case list's queue tabs read these rows instead of
counting every active case per visit. The table is filled from the cases in one INSERT … SELECT.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from service import totals


def _install(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        totals.install(cursor)
        totals.rebuild(cursor)
        cursor.execute("ANALYZE service_casequeuetotal")


def _uninstall(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        for statement in totals.UNINSTALL_SQL:
            cursor.execute(statement)


class Migration(migrations.Migration):

    dependencies = [
        ('crm', '0010_add_role_cost'),
        ('service', '0006_case_active_assignee'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='CaseQueueTotal',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('sla_breached', models.BooleanField()),
                ('cases', models.BigIntegerField()),
                ('assignee', models.ForeignKey(db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('team', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='crm.team')),
            ],
            options={
                'verbose_name': 'case queue total',
                'verbose_name_plural': 'case queue totals',
                'indexes': [models.Index(fields=['assignee', 'team'], name='casequeuetotal_assignee')],
                'constraints': [models.UniqueConstraint(fields=('team', 'assignee', 'sla_breached'), name='casequeuetotal_key', nulls_distinct=False)],
            },
        ),
        migrations.RunPython(_install, _uninstall),
    ]
