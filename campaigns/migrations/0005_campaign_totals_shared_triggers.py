"""The campaign totals' triggers under the names ``deals.totals.statement_triggers`` gives (one
set per table: ``campaigns_dealtotal_attribution_*`` and ``campaigns_dealtotal_deal_*``), which
now builds them as it does the deal and case rollups'. The functions' bodies are unchanged; the
table's rows stay as they are (the old triggers kept them; no write happens between the drop and
the install, which run in this migration's transaction)."""

from django.db import migrations

from campaigns import totals

# What 0004 installed, by the names the module used then.
_OLD_FUNCTIONS = (
    "campaigns_dealtotal_attribution_insert",
    "campaigns_dealtotal_attribution_update",
    "campaigns_dealtotal_attribution_delete",
    "campaigns_dealtotal_deal_insert",
    "campaigns_dealtotal_deal_update",
    "campaigns_dealtotal_deal_delete",
    "campaigns_dealtotal_truncate",
)
_OLD_TRIGGERS = ("insert", "update", "delete", "truncate")


def _rename(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        for table in ("campaigns_dealattribution", "deals_deal"):
            for event in _OLD_TRIGGERS:
                cursor.execute(f"DROP TRIGGER IF EXISTS campaigns_dealtotal_{event} ON {table}")
        for function in _OLD_FUNCTIONS:
            cursor.execute(f"DROP FUNCTION IF EXISTS {function}()")
        totals.install(cursor)


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0004_add_campaign_deal_totals"),
    ]

    # Backwards the new triggers stay: they keep the table exactly as the old ones did, and
    # 0004's reversal removes them by the current names.
    operations = [migrations.RunPython(_rename, migrations.RunPython.noop)]
