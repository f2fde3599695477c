-- Scoped API keys (rpc.auth.api-keys.*). A key is `hk_<id>_<secret>`; only sha256(secret) is
-- stored. `scopes` are the contract's scope names; `role` is what requests with the key act as
-- (the strongest its scopes need, never above the creator's at creation). Active keys (not
-- revoked) are mirrored into the `auth-api-keys` KV bucket the gateways watch; auth puts them
-- all again at start, so a lost write heals.
CREATE TABLE api_keys (
    id            UUID PRIMARY KEY,
    tenant_id     UUID NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name          TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    secret_hash   BYTEA NOT NULL CHECK (length(secret_hash) = 32),
    scopes        TEXT[] NOT NULL CHECK (cardinality(scopes) BETWEEN 1 AND 32),
    role          TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'editor', 'viewer')),
    created_by    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at    TIMESTAMPTZ,
    revoked_at    TIMESTAMPTZ,
    last_used_at  TIMESTAMPTZ
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id, created_at DESC);
CREATE INDEX api_keys_creator ON api_keys (tenant_id, created_by) WHERE revoked_at IS NULL;

SELECT kit_enable_tenant_isolation('api_keys');
