-- GDPR exports (`POST /v1/me/export`, docs/adr/0009-gdpr-export-and-erasure.md): one row per
-- export a user asked for, in the tenant they asked from (the row is read in that tenant's
-- scope, by that user only). The archive (gzip-compressed JSON, `herald-export/1`) is kept
-- until `expires_at` and then deleted; a failed export has no archive and says why.
CREATE TABLE exports (
    id             UUID PRIMARY KEY,
    tenant_id      UUID NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id        UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status         TEXT NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'complete', 'failed', 'expired')),
    error          TEXT,
    archive        BYTEA,
    archive_bytes  BIGINT CHECK (archive_bytes >= 0),
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    completed_at   TIMESTAMPTZ,
    expires_at     TIMESTAMPTZ,
    CHECK ((status = 'complete') = (archive IS NOT NULL)),
    CHECK ((status = 'pending') = (completed_at IS NULL))
);
CREATE INDEX exports_user ON exports (tenant_id, user_id, created_at DESC);
-- At most one export in progress per user and tenant: asking again returns that one.
CREATE UNIQUE INDEX exports_one_pending ON exports (tenant_id, user_id) WHERE status = 'pending';
-- The expiry sweep.
CREATE INDEX exports_expiry ON exports (expires_at) WHERE status = 'complete';

SELECT kit_enable_tenant_isolation('exports');
