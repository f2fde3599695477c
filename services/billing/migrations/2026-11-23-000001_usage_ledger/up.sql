-- One row per metered event. The unique key makes a second count of the same event
-- impossible even if the inbox were bypassed.
CREATE TABLE usage_ledger (
    id                 UUID PRIMARY KEY,
    tenant_id          UUID NOT NULL,
    metric             TEXT NOT NULL,
    quantity           BIGINT NOT NULL CHECK (quantity >= 0),
    source_message_id  TEXT NOT NULL,
    occurred_at        TIMESTAMPTZ NOT NULL,
    recorded_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (metric, source_message_id)
);
CREATE INDEX usage_ledger_tenant ON usage_ledger (tenant_id, metric, occurred_at);
