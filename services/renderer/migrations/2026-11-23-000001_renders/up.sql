-- Render jobs. The image lives in object storage under a key derived from the design's hash,
-- so the same design is rendered once however many jobs ask for it.
CREATE TABLE renders (
    id            UUID PRIMARY KEY,
    tenant_id     UUID NOT NULL,
    design        JSONB NOT NULL,
    design_hash   TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('pending', 'completed', 'failed')),
    width         INTEGER NOT NULL,
    height        INTEGER NOT NULL,
    object_key    TEXT,
    content_hash  TEXT,
    bytes         BIGINT,
    error         TEXT,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    completed_at  TIMESTAMPTZ
);
CREATE INDEX renders_tenant ON renders (tenant_id, created_at DESC);
