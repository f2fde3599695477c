-- Email verification, password reset and invitations (docs/security.md, "Verification,
-- password reset and invitations"), and row-level security on auth's tenant-owned tables
-- (docs/adr/0008-row-level-security.md).

ALTER TABLE users ADD COLUMN email_verified_at TIMESTAMPTZ;

-- Single-use tokens sent by email to a user: 32 random bytes, stored only as sha256, consumed
-- by a conditional UPDATE (consumed_at IS NULL AND expires_at > now()). Users are global, so
-- these rows belong to no tenant. `email` is the address the token was sent to: verifying it
-- verifies that address only.
CREATE TABLE user_tokens (
    id           UUID PRIMARY KEY,
    token_hash   BYTEA NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    purpose      TEXT NOT NULL CHECK (purpose IN ('verify_email', 'password_reset')),
    user_id      UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email        TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at   TIMESTAMPTZ NOT NULL,
    consumed_at  TIMESTAMPTZ
);
CREATE INDEX user_tokens_user ON user_tokens (user_id, purpose) WHERE consumed_at IS NULL;
CREATE INDEX user_tokens_expiry ON user_tokens (expires_at);

-- Invitations to a tenant with a role. The token (sha256 only) is single use: accepting sets
-- accepted_at conditionally, like user_tokens.
CREATE TABLE invitations (
    id           UUID PRIMARY KEY,
    tenant_id    UUID NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    email        TEXT NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    role         TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'editor', 'viewer')),
    token_hash   BYTEA NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    invited_by   UUID REFERENCES users (id) ON DELETE SET NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at   TIMESTAMPTZ NOT NULL,
    accepted_at  TIMESTAMPTZ,
    accepted_by  UUID REFERENCES users (id) ON DELETE SET NULL,
    revoked_at   TIMESTAMPTZ,
    CHECK (accepted_at IS NULL OR revoked_at IS NULL)
);
CREATE INDEX invitations_tenant ON invitations (tenant_id, created_at DESC);

SELECT kit_enable_tenant_isolation('memberships');
SELECT kit_enable_tenant_isolation('refresh_tokens');
SELECT kit_enable_tenant_isolation('invitations');
