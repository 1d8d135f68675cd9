from django.db import migrations

# The outcomes a call offers until an admin changes them (Admin › Activity types › Call).
CALL_OUTCOMES = ["Connected", "Left a voicemail", "No answer", "Busy", "Wrong number", "Call back later"]


def add_call_outcomes(apps, schema_editor):
    ActivityType = apps.get_model("activities", "ActivityType")
    ActivityOutcome = apps.get_model("activities", "ActivityOutcome")
    call = ActivityType.objects.filter(key="call").first()
    if call is None:
        return
    for position, name in enumerate(CALL_OUTCOMES):
        ActivityOutcome.objects.get_or_create(type=call, name=name, defaults={"position": position})


class Migration(migrations.Migration):
    dependencies = [("activities", "0008_add_activity_outcome")]

    operations = [migrations.RunPython(add_call_outcomes, migrations.RunPython.noop)]
