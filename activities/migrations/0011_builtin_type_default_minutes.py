from django.db import migrations

# Time a built-in activity usually takes, for the cost to serve; admins change them per type.
DEFAULT_MINUTES = {"call": 15, "meeting": 60, "email": 10, "task": 15, "note": 0}


def set_defaults(apps, schema_editor):
    ActivityType = apps.get_model("activities", "ActivityType")
    for key, minutes in DEFAULT_MINUTES.items():
        ActivityType.objects.filter(key=key, default_minutes=0).update(default_minutes=minutes)


class Migration(migrations.Migration):
    dependencies = [("activities", "0010_add_time_spent")]

    operations = [migrations.RunPython(set_defaults, migrations.RunPython.noop)]
