-- Connected social accounts.
CREATE TABLE accounts (
    id                 UUID PRIMARY KEY,
    tenant_id          UUID NOT NULL,
    platform           TEXT NOT NULL,
    instance_url       TEXT NOT NULL,
    remote_account_id  TEXT NOT NULL,
    handle             TEXT NOT NULL,
    access_token       TEXT NOT NULL,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, platform, instance_url, remote_account_id)
);

-- A post and its schedule. `generation` grows with every reschedule; a due message of an
-- older generation is stale.
CREATE TABLE posts (
    id            UUID PRIMARY KEY,
    tenant_id     UUID NOT NULL,
    text          TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('scheduled', 'publishing', 'published', 'failed')),
    scheduled_at  TIMESTAMPTZ NOT NULL,
    generation    INTEGER NOT NULL DEFAULT 1,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    published_at  TIMESTAMPTZ
);
CREATE INDEX posts_tenant ON posts (tenant_id, created_at DESC);
CREATE INDEX posts_due ON posts (scheduled_at) WHERE status IN ('scheduled', 'publishing');

-- One external effect per (post, account): pending → in_flight → done | failed | unknown.
-- The idempotency key is fixed before the first call, so every retry is recognisable.
CREATE TABLE post_targets (
    post_id          UUID NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    account_id       UUID NOT NULL REFERENCES accounts (id),
    tenant_id        UUID NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('pending', 'in_flight', 'done', 'failed', 'unknown')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    idempotency_key  TEXT NOT NULL,
    lease_until      TIMESTAMPTZ,
    remote_id        TEXT,
    remote_url       TEXT,
    last_error       TEXT,
    published_at     TIMESTAMPTZ,
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (post_id, account_id)
);
CREATE INDEX post_targets_tenant ON post_targets (tenant_id);
