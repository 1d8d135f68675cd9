"""Chinese/Japanese/Korean bigrams of an activity's subject, indexed as company names are
(contacts 0014): two CJK characters ("华信") make no trigram, so the global search read every
subject through the trigram index (6 s at 3,000,000 activities)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("activities", "0011_builtin_type_default_minutes"),
        ("contacts", "0014_add_company_cjk_bigram_index"),
    ]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX activities_activity_subject_cjk_bigrams ON activities_activity "
            "USING gin (crm_cjk_bigrams(subject));",
            "DROP INDEX IF EXISTS activities_activity_subject_cjk_bigrams;",
        ),
    ]
