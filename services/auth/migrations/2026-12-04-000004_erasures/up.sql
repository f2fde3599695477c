-- GDPR erasure (docs/adr/0009-gdpr-export-and-erasure.md). auth coordinates: an erasure is
-- recorded with one confirmation row per part (a tenant it touches) and service; it is
-- complete when every row is confirmed. Coordinator state, read across tenants by design
-- (the status is asked for by erasure id, and completion counts every part), so the part's
-- tenant is `part_tenant`, not an isolated `tenant_id`. Nothing personal survives
-- completion: a user erasure's subject and requester ids are replaced by its pseudonym.
CREATE TABLE erasures (
    -- 128 random bits: also the capability that reads the status (the caller's tokens are
    -- revoked when the erasure starts).
    id            UUID PRIMARY KEY,
    subject_type  TEXT NOT NULL CHECK (subject_type IN ('user', 'tenant')),
    subject_id    UUID NOT NULL,
    requested_by  UUID NOT NULL,
    -- Replaces an erased user's id in the audit events of tenants that survive.
    pseudonym     UUID NOT NULL,
    status        TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'complete')),
    requested_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    completed_at  TIMESTAMPTZ,
    CHECK ((status = 'complete') = (completed_at IS NOT NULL))
);
-- Asking again while one is running returns that one.
CREATE UNIQUE INDEX erasures_one_pending ON erasures (subject_type, subject_id)
    WHERE status = 'pending';
CREATE INDEX erasures_requested_by ON erasures (requested_by);

CREATE TABLE erasure_confirmations (
    erasure_id    UUID NOT NULL REFERENCES erasures (id) ON DELETE CASCADE,
    part_tenant   UUID NOT NULL,
    scope         TEXT NOT NULL CHECK (scope IN ('tenant', 'member')),
    service       TEXT NOT NULL CHECK (length(service) BETWEEN 1 AND 40),
    confirmed_at  TIMESTAMPTZ,
    PRIMARY KEY (erasure_id, part_tenant, service)
);

-- The audit log stays append-only, except through the two erasure functions below: the
-- trigger lets an UPDATE or DELETE through only when it runs as the table's owner (inside a
-- SECURITY DEFINER function; services query as the service role, never the owner) AND the
-- transaction-local `herald.audit_erasure` is on (which only those functions set, and reset).
-- TRUNCATE is always refused. Row-level security still applies inside them (the tables are
-- FORCEd), so they act only on the caller's tenant.
CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE')
       AND current_setting('herald.audit_erasure', true) = 'on'
       AND current_user = (SELECT tableowner FROM pg_tables
                           WHERE schemaname = TG_TABLE_SCHEMA AND tablename = TG_TABLE_NAME) THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'audit_events is append-only';
END
$fn$;

-- Deletes the audit events of an erased tenant (the AUDIT stream keeps them; ADR 0009).
CREATE FUNCTION erase_audit_events(tenant uuid) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $fn$
DECLARE
    erased bigint;
BEGIN
    PERFORM set_config('herald.audit_erasure', 'on', true);
    DELETE FROM audit_events WHERE tenant_id = tenant;
    GET DIAGNOSTICS erased = ROW_COUNT;
    PERFORM set_config('herald.audit_erasure', '', true);
    RETURN erased;
END
$fn$;

-- Replaces an erased user's id (as actor or as target) by a pseudonym in one tenant's audit
-- events, and forgets the client IP of the events they acted in.
CREATE FUNCTION pseudonymise_audit_user(tenant uuid, erased_user text, pseudonym text)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $fn$
DECLARE
    changed bigint;
BEGIN
    PERFORM set_config('herald.audit_erasure', 'on', true);
    UPDATE audit_events SET
        actor_id = CASE WHEN actor_type = 'user' AND actor_id = erased_user
                        THEN pseudonym ELSE actor_id END,
        client_ip = CASE WHEN actor_type = 'user' AND actor_id = erased_user
                         THEN NULL ELSE client_ip END,
        target_id = CASE WHEN target_type = 'user' AND target_id = erased_user
                         THEN pseudonym ELSE target_id END
    WHERE tenant_id = tenant
      AND ((actor_type = 'user' AND actor_id = erased_user)
           OR (target_type = 'user' AND target_id = erased_user));
    GET DIAGNOSTICS changed = ROW_COUNT;
    PERFORM set_config('herald.audit_erasure', '', true);
    RETURN changed;
END
$fn$;

-- Every row of a tenant in auth's tables: each table with a `tenant_id` column (memberships,
-- sessions, API keys, invitations, exports, and whatever is added later), then the tenant.
-- Runs as the caller, under its row-level-security scope. audit_events goes through
-- erase_audit_events.
CREATE FUNCTION erase_tenant_rows(tenant uuid) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$
DECLARE
    tbl text;
BEGIN
    FOR tbl IN
        SELECT c.relname FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
        WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
          AND c.relname <> 'audit_events'
        ORDER BY c.relname
    LOOP
        EXECUTE format('DELETE FROM %I WHERE tenant_id = $1', tbl) USING tenant;
    END LOOP;
    DELETE FROM tenants WHERE id = tenant;
END
$fn$;

-- A user's rows in one tenant: each table with `tenant_id` and `user_id` columns
-- (membership, sessions, exports, ...).
CREATE FUNCTION erase_member_rows(tenant uuid, member uuid) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$
DECLARE
    tbl text;
BEGIN
    FOR tbl IN
        SELECT c.relname FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
          AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                      AND a.attname = 'tenant_id' AND NOT a.attisdropped)
          AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                      AND a.attname = 'user_id' AND NOT a.attisdropped)
        ORDER BY c.relname
    LOOP
        EXECUTE format('DELETE FROM %I WHERE tenant_id = $1 AND user_id = $2', tbl)
            USING tenant, member;
    END LOOP;
END
$fn$;
