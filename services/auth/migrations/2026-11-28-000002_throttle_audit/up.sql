-- Login throttling (services/auth/src/throttle): one row per throttled key, shared by every
-- replica. `key` is a sha256 (base64url) for accounts, so no email is kept for guesses at
-- addresses nobody registered; an IP address (or IPv6 /64) for IPs. Not tenant-owned.
CREATE TABLE throttle_counters (
    scope              TEXT NOT NULL CHECK (length(scope) BETWEEN 1 AND 40),
    key                TEXT NOT NULL CHECK (length(key) BETWEEN 1 AND 100),
    failures           INTEGER NOT NULL DEFAULT 0 CHECK (failures >= 0),
    -- attempts admitted and still being verified (counted before the password is checked)
    pending            INTEGER NOT NULL DEFAULT 0 CHECK (pending >= 0),
    window_started_at  TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    locked_until       TIMESTAMPTZ,
    lockouts           INTEGER NOT NULL DEFAULT 0 CHECK (lockouts >= 0),
    last_attempt_at    TIMESTAMPTZ,
    PRIMARY KEY (scope, key)
);

-- The audit log as read by `rpc.auth.audit.list`: every event of the AUDIT stream, stored
-- once (the consumer's inbox and the primary key). Append-only: the trigger refuses changes.
CREATE TABLE audit_events (
    event_id     UUID PRIMARY KEY,
    tenant_id    UUID NOT NULL,
    action       TEXT NOT NULL CHECK (length(action) BETWEEN 1 AND 64),
    actor_type   TEXT NOT NULL CHECK (actor_type IN ('user', 'api_key', 'system')),
    actor_id     TEXT NOT NULL,
    target_type  TEXT,
    target_id    TEXT,
    outcome      TEXT NOT NULL CHECK (outcome IN ('success', 'failure', 'denied')),
    client_ip    TEXT,
    request_id   TEXT NOT NULL,
    reason       TEXT,
    occurred_at  TIMESTAMPTZ NOT NULL,
    recorded_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- Newest first per tenant, the cursor's order.
CREATE INDEX audit_events_page ON audit_events (tenant_id, occurred_at DESC, event_id DESC);

CREATE FUNCTION audit_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only';
END
$fn$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

SELECT kit_enable_tenant_isolation('audit_events');
