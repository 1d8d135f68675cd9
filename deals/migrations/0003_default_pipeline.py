"""A new install gets a ready-to-use "Sales" pipeline and a few lost reasons."""

from django.db import migrations

STAGES = [
    # name, probability, is_won, is_lost
    ("Lead", 10, False, False),
    ("Qualified", 25, False, False),
    ("Proposal", 50, False, False),
    ("Negotiation", 75, False, False),
    ("Won", 100, True, False),
    ("Lost", 0, False, True),
]
LOST_REASONS = ["Price too high", "Chose a competitor", "No budget", "No decision", "Bad timing", "Other"]


def create_default_pipeline(apps, schema_editor):
    Pipeline = apps.get_model("deals", "Pipeline")
    Stage = apps.get_model("deals", "Stage")
    LostReason = apps.get_model("deals", "LostReason")
    if not Pipeline.objects.exists():
        pipeline = Pipeline.objects.create(name="Sales", is_default=True, position=0)
        Stage.objects.bulk_create(
            Stage(pipeline=pipeline, name=name, position=position, probability=probability, is_won=won, is_lost=lost)
            for position, (name, probability, won, lost) in enumerate(STAGES)
        )
    for name in LOST_REASONS:
        LostReason.objects.get_or_create(name=name)


class Migration(migrations.Migration):
    dependencies = [
        ("deals", "0002_add_list_indexes_and_stage_change_reason"),
    ]

    operations = [
        migrations.RunPython(create_default_pipeline, migrations.RunPython.noop),
    ]
