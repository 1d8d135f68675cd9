from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("reports", "0013_fill_dealfact_stage_and_custom")]

    operations = [
        migrations.AddField(
            model_name="dealfact",
            name="closed_day",
            field=models.DateField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="dealfact",
            name="created_day",
            field=models.DateField(blank=True, null=True),
        ),
    ]
