from django.db import migrations

# The current generation's facts get their deal's stage and custom values at once, so a
# report grouped by stage is right before the next rebuild (one UPDATE; ~300k rows in seconds).
FILL = """
UPDATE reports_dealfact f SET stage_id = d.stage_id, custom = COALESCE(d.custom, '{}'::jsonb)
FROM deals_deal d WHERE d.id = f.deal_id
"""


class Migration(migrations.Migration):
    dependencies = [("reports", "0012_add_dealfact_stage_and_custom")]

    operations = [migrations.RunSQL(FILL, migrations.RunSQL.noop)]
