-- Each time a target failed for good, with the dead letter written for it
-- (`post.target.dead:<post>:<account>:<failure>`). `failure` numbers a target's failures, so a
-- target re-opened by a replayed letter that fails again gets a new letter, and recording one
-- failure twice (a retried transaction) writes the same one. `reconcile_first`: the failed
-- attempt had claimed a target whose previous outcome was unknown, so the post may be on the
-- platform; a re-opened target then reconciles before it publishes.
CREATE TABLE target_failures (
    post_id          UUID NOT NULL,
    account_id       UUID NOT NULL,
    failure          INTEGER NOT NULL CHECK (failure > 0),
    tenant_id        UUID NOT NULL,
    attempts         INTEGER NOT NULL,
    reason           TEXT NOT NULL,
    reconcile_first  BOOLEAN NOT NULL,
    failed_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Set when a replayed letter re-opened the target.
    reopened_at      TIMESTAMPTZ,
    PRIMARY KEY (post_id, account_id, failure),
    FOREIGN KEY (post_id, account_id) REFERENCES post_targets (post_id, account_id) ON DELETE CASCADE
);
CREATE INDEX target_failures_tenant ON target_failures (tenant_id);
