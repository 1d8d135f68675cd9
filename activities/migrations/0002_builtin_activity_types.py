from django.db import migrations

BUILTIN = [
    # key, name, icon, colour, has_due, has_duration, has_outcome, has_attendees, position
    ("call", "Call", "bi-telephone", "#0d6efd", False, True, True, False, 10),
    ("meeting", "Meeting", "bi-people", "#6f42c1", True, True, True, True, 20),
    ("email", "Email", "bi-envelope", "#198754", False, False, False, False, 30),
    ("task", "Task", "bi-check2-square", "#fd7e14", True, False, False, False, 40),
    ("note", "Note", "bi-journal-text", "#6c757d", False, False, False, False, 50),
]


def create_types(apps, schema_editor):
    ActivityType = apps.get_model("activities", "ActivityType")
    for key, name, icon, color, has_due, has_duration, has_outcome, has_attendees, position in BUILTIN:
        ActivityType.objects.get_or_create(
            key=key,
            defaults={
                "name": name,
                "icon": icon,
                "color": color,
                "has_due": has_due,
                "has_duration": has_duration,
                "has_outcome": has_outcome,
                "has_attendees": has_attendees,
                "position": position,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("activities", "0001_initial")]

    operations = [migrations.RunPython(create_types, migrations.RunPython.noop)]
