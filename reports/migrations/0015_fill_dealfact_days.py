from django.conf import settings
from django.db import migrations

# The current generation's facts get their days at once (the next rebuild writes them anyway).
FILL = """
UPDATE reports_dealfact SET created_day = (created_at AT TIME ZONE %s)::date,
                            closed_day = (closed_at AT TIME ZONE %s)::date
"""


def fill(apps, schema_editor) -> None:
    schema_editor.execute(FILL, [settings.TIME_ZONE, settings.TIME_ZONE])


class Migration(migrations.Migration):
    dependencies = [("reports", "0014_add_dealfact_days")]

    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
