-- Who can be told: one row per user of a tenant, from identity.user-registered.
-- The email address is personal data and is erased with the user.
CREATE TABLE recipients (
    tenant_id   UUID NOT NULL,
    user_id     UUID NOT NULL,
    email       TEXT NOT NULL,
    role        TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, user_id)
);

-- The in-app inbox. The unique source message makes a second notification for the same
-- event impossible even if the consumer's inbox were bypassed.
CREATE TABLE notifications (
    id                 UUID PRIMARY KEY,
    tenant_id          UUID NOT NULL,
    kind               TEXT NOT NULL,
    title              TEXT NOT NULL,
    body               TEXT NOT NULL,
    source_message_id  TEXT NOT NULL UNIQUE,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX notifications_tenant_created ON notifications (tenant_id, created_at DESC, id DESC);

-- One email per (notification, recipient): the external effect's state machine.
-- `message_id` is the RFC 5322 Message-ID, derived from the source message and the recipient,
-- so the mailbox can be reconciled after a crash between delivering and marking sent.
CREATE TABLE email_deliveries (
    id               UUID PRIMARY KEY,
    tenant_id        UUID NOT NULL,
    notification_id  UUID NOT NULL REFERENCES notifications (id),
    message_id       TEXT NOT NULL UNIQUE,
    to_address       TEXT NOT NULL,
    subject          TEXT NOT NULL,
    body             TEXT NOT NULL,
    state            TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent')),
    attempts         INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    sent_at          TIMESTAMPTZ,
    CHECK ((state = 'sent') = (sent_at IS NOT NULL))
);
CREATE INDEX email_deliveries_pending ON email_deliveries (created_at) WHERE state = 'pending';
CREATE INDEX email_deliveries_tenant ON email_deliveries (tenant_id, created_at);
