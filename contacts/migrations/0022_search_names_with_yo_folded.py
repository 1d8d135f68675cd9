"""Name search with ё as е: GIN trigram indexes on ``translate(name, 'ёЁ', 'еЕ')``
(``contacts.models.yo_folded``). The search used to OR up to six spellings of a Cyrillic word
(Королев, Королёв, …), one index scan each; now one word is one scan. The new indexes are built
before the contacts' plain name indexes go, so a search always has one."""

import django.contrib.postgres.indexes
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0021_add_contact_cjk_name_index"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name="company",
            index=django.contrib.postgres.indexes.GinIndex(
                django.contrib.postgres.indexes.OpClass(
                    models.Func(
                        models.F("name"),
                        models.Value("ёЁ"),
                        models.Value("еЕ"),
                        function="translate",
                        output_field=models.CharField(),
                    ),
                    name="gin_trgm_ops",
                ),
                gin_pending_list_limit=256,
                name="company_name_fold_trgm",
            ),
        ),
        migrations.AddIndex(
            model_name="contact",
            index=django.contrib.postgres.indexes.GinIndex(
                django.contrib.postgres.indexes.OpClass(
                    models.Func(
                        models.F("last_name"),
                        models.Value("ёЁ"),
                        models.Value("еЕ"),
                        function="translate",
                        output_field=models.CharField(),
                    ),
                    name="gin_trgm_ops",
                ),
                name="contact_last_name_fold_trgm",
            ),
        ),
        migrations.AddIndex(
            model_name="contact",
            index=django.contrib.postgres.indexes.GinIndex(
                django.contrib.postgres.indexes.OpClass(
                    models.Func(
                        models.F("first_name"),
                        models.Value("ёЁ"),
                        models.Value("еЕ"),
                        function="translate",
                        output_field=models.CharField(),
                    ),
                    name="gin_trgm_ops",
                ),
                name="contact_first_name_fold_trgm",
            ),
        ),
        migrations.RemoveIndex(
            model_name="contact",
            name="contact_last_name_trgm",
        ),
        migrations.RemoveIndex(
            model_name="contact",
            name="contact_first_name_trgm",
        ),
    ]
