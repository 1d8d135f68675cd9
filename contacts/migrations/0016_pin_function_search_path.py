"""The matcher's and search's SQL functions run with a fixed search_path.

pg_dump restores with an empty search_path, and these functions are called while the
restore builds the indexes on them: unqualified calls to each other and to extension
functions (unaccent, dmetaphone) then fail and the backup cannot be restored (found by the
backup drill, tests/drill/test_backup_restore.py). Pinning the path is also PostgreSQL's
advice for any function used in an index.
"""

from django.db import migrations

FUNCTIONS = [
    "dedupe_name(text)",
    "dedupe_phone(text)",
    "dedupe_email(text)",
    "dedupe_email_local(text)",
    "crm_cjk_bigrams(text)",
    "dedupe_contact_keys(text, text, text, text, text, text, bigint)",
    "dedupe_company_keys(text, text, text, text)",
    "dedupe_shared(text[], text[])",
]


class Migration(migrations.Migration):
    dependencies = [("contacts", "0015_add_updated_index")]

    operations = [
        migrations.RunSQL(
            sql=[f"ALTER FUNCTION {f} SET search_path = public, pg_catalog" for f in FUNCTIONS],
            reverse_sql=[f"ALTER FUNCTION {f} RESET search_path" for f in FUNCTIONS],
        )
    ]
