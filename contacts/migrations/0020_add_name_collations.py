"""ICU collations that sort names as a Russian, Chinese or English reader expects, and an index per
collation on company and contact names, so the lists sorted by name stay keyset index scans.

The database's C collation sorts by code point: ё after я, Chinese by code point. ``crm_name_ru``
puts ё after е and Cyrillic before Latin; ``crm_name_zh`` sorts Chinese by pinyin; ``crm_name_en``
is the Unicode root order (Latin, then Greek, Cyrillic, …, Han). ICU collations are created here
under our own names (not the predefined ``ru-x-icu`` …), so a server whose ICU locales were
imported differently still has them; they are deterministic, so (name, id) stays a total order.
"""

import django.db.models.functions.comparison
from django.conf import settings
from django.db import migrations, models

# A copy, not an import: a migration must not change when the code does.
NAME_COLLATION_LOCALES = {"crm_name_en": "und", "crm_name_ru": "ru", "crm_name_zh": "zh"}


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0019_set_dedupe_keys_pending_list_limit"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        *(
            migrations.RunSQL(
                f"CREATE COLLATION IF NOT EXISTS {name} (provider = icu, locale = '{locale}');",
                f"DROP COLLATION IF EXISTS {name};",
            )
            for name, locale in NAME_COLLATION_LOCALES.items()
        ),
        migrations.AddIndex(
            model_name="company",
            index=models.Index(
                django.db.models.functions.comparison.Collate("name", "crm_name_en"),
                models.F("id"),
                name="company_name_en",
            ),
        ),
        migrations.AddIndex(
            model_name="company",
            index=models.Index(
                django.db.models.functions.comparison.Collate("name", "crm_name_ru"),
                models.F("id"),
                name="company_name_ru",
            ),
        ),
        migrations.AddIndex(
            model_name="company",
            index=models.Index(
                django.db.models.functions.comparison.Collate("name", "crm_name_zh"),
                models.F("id"),
                name="company_name_zh",
            ),
        ),
        migrations.AddIndex(
            model_name="contact",
            index=models.Index(
                django.db.models.functions.comparison.Collate("last_name", "crm_name_en"),
                django.db.models.functions.comparison.Collate("first_name", "crm_name_en"),
                models.F("id"),
                name="contact_name_en",
            ),
        ),
        migrations.AddIndex(
            model_name="contact",
            index=models.Index(
                django.db.models.functions.comparison.Collate("last_name", "crm_name_ru"),
                django.db.models.functions.comparison.Collate("first_name", "crm_name_ru"),
                models.F("id"),
                name="contact_name_ru",
            ),
        ),
        migrations.AddIndex(
            model_name="contact",
            index=models.Index(
                django.db.models.functions.comparison.Collate("last_name", "crm_name_zh"),
                django.db.models.functions.comparison.Collate("first_name", "crm_name_zh"),
                models.F("id"),
                name="contact_name_zh",
            ),
        ),
    ]
