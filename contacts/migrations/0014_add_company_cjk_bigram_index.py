"""Chinese/Japanese/Korean bigrams of a company name, indexed: a two-character CJK search
("华信") has no trigram, so ``name ILIKE '%华信%'`` read the whole table (389 ms at 200,000
rows); ``crm_cjk_bigrams(name) @> '{华信}'`` answers from this index (0.04 ms)."""

from django.db import migrations

FUNCTION = r"""
CREATE OR REPLACE FUNCTION crm_cjk_bigrams(t text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
  SELECT coalesce(array_agg(DISTINCT substr(t, i, 2)), '{}')
  FROM generate_series(1, char_length(t) - 1) AS i
  WHERE substr(t, i, 2) ~ '^[぀-ヿ㐀-䶿一-鿿豈-﫿가-힯]{2}$'
$$;
"""


class Migration(migrations.Migration):
    dependencies = [("contacts", "0013_add_importjob_lease")]

    operations = [
        migrations.RunSQL(FUNCTION, "DROP FUNCTION IF EXISTS crm_cjk_bigrams(text);"),
        migrations.RunSQL(
            "CREATE INDEX contacts_company_name_cjk_bigrams ON contacts_company USING gin (crm_cjk_bigrams(name));",
            "DROP INDEX IF EXISTS contacts_company_name_cjk_bigrams;",
        ),
    ]
