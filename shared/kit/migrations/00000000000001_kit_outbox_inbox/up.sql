-- The kit's exactly-once tables, created in every service's own schema (search_path).

-- Transactional outbox: rows written in the same transaction as the state change that caused
-- them; the relay publishes them with Nats-Msg-Id = message_id and marks them sent.
CREATE TABLE kit_outbox (
    id          BIGSERIAL PRIMARY KEY,
    message_id  TEXT NOT NULL UNIQUE,
    subject     TEXT NOT NULL,
    headers     JSONB NOT NULL DEFAULT '[]',
    payload     BYTEA NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    sent_at     TIMESTAMPTZ
);
CREATE INDEX kit_outbox_unsent ON kit_outbox (id) WHERE sent_at IS NULL;
CREATE INDEX kit_outbox_sent_at ON kit_outbox (sent_at) WHERE sent_at IS NOT NULL;

-- Inbox: one row per (consumer, message id) whose effects were committed; a message already
-- here is acknowledged without effect.
CREATE TABLE kit_inbox (
    consumer     TEXT NOT NULL,
    message_id   TEXT NOT NULL,
    processed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, message_id)
);
CREATE INDEX kit_inbox_processed_at ON kit_inbox (processed_at);
