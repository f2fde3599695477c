DROP FUNCTION erase_member_rows(uuid, uuid);
DROP FUNCTION erase_tenant_rows(uuid);
DROP FUNCTION pseudonymise_audit_user(uuid, text, text);
DROP FUNCTION erase_audit_events(uuid);
CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only';
END
$fn$;
DROP TABLE erasure_confirmations;
DROP TABLE erasures;
