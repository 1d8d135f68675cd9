"""Chinese/Japanese/Korean characters and character pairs of a contact's name (family name then
given name, as the name is written: 王 + 小明 → 王小明), GIN-indexed: "王", "小明" and "王小明"
find 王小明 from this index. Trigrams cannot (a two-character name has none, and the full
name spans two columns), so such a search read every contact."""

from django.db import migrations

CJK = "぀-ヿ㐀-䶿一-鿿豈-﫿가-힯"  # crm.l10n.CJK_CLASS, as in crm_cjk_bigrams (0014)

FUNCTION = rf"""
CREATE OR REPLACE FUNCTION crm_cjk_name_grams(last_name text, first_name text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
  SELECT coalesce(array_agg(DISTINCT g), '{{}}')
  FROM (SELECT last_name || first_name AS t) AS name
  CROSS JOIN LATERAL generate_series(1, char_length(name.t)) AS i
  CROSS JOIN LATERAL (VALUES (substr(name.t, i, 1)), (substr(name.t, i, 2))) AS v(g)
  WHERE name.t ~ '[{CJK}]' AND g ~ '^[{CJK}]{{1,2}}$'
$$;
"""


class Migration(migrations.Migration):
    dependencies = [("contacts", "0020_add_name_collations")]

    operations = [
        migrations.RunSQL(FUNCTION, "DROP FUNCTION IF EXISTS crm_cjk_name_grams(text, text);"),
        migrations.RunSQL(
            "CREATE INDEX contacts_contact_name_cjk_grams ON contacts_contact "
            "USING gin (crm_cjk_name_grams(last_name, first_name)) WITH (gin_pending_list_limit = 256);",
            "DROP INDEX IF EXISTS contacts_contact_name_cjk_grams;",
        ),
    ]
