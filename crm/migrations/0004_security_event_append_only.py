from django.db import migrations

# The security log is append-only at the database too: UPDATE and DELETE raise, except a
# DELETE in a transaction that ran ``SET LOCAL crm.security_log_purge = 'on'`` — the retention
# sweep (crm.security.security_events_purge). TRUNCATE (test database flushes) is unaffected.
FORWARD = """
CREATE FUNCTION crm_security_event_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('crm.security_log_purge', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'crm_securityevent is append-only (% refused)', TG_OP;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER crm_security_event_append_only
    BEFORE UPDATE OR DELETE ON crm_securityevent
    FOR EACH ROW EXECUTE FUNCTION crm_security_event_append_only();
"""

REVERSE = """
DROP TRIGGER IF EXISTS crm_security_event_append_only ON crm_securityevent;
DROP FUNCTION IF EXISTS crm_security_event_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("crm", "0003_add_security_event")]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
