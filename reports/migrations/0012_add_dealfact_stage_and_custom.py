import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0024_add_attachment"),
        ("deals", "0015_add_product_cost_and_line_item_cost"),
        ("reports", "0011_add_profit_rollups"),
    ]

    operations = [
        # ``company_id`` becomes a foreign key on the same column: only Django's state changes.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(model_name="dealfact", name="company_id"),
                migrations.AddField(
                    model_name="dealfact",
                    name="company",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="contacts.company",
                    ),
                ),
            ],
        ),
        migrations.AddField(
            model_name="dealfact",
            name="custom",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name="dealfact",
            name="stage",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="deals.stage",
            ),
        ),
    ]
