"""Chinese/Japanese/Korean bigrams of a deal's title, indexed as company names are (contacts
0014): two CJK characters ("华信") make no trigram, so the title's trigram index read all of it
(the global search's deal section took 140–250 ms at 300,000 deals)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("deals", "0016_add_quote_email"), ("contacts", "0014_add_company_cjk_bigram_index")]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX deals_deal_title_cjk_bigrams ON deals_deal USING gin (crm_cjk_bigrams(title));",
            "DROP INDEX IF EXISTS deals_deal_title_cjk_bigrams;",
        ),
    ]
