-- The full post lifecycle, per-target checkpoints and waits, and refreshable tokens.

ALTER TABLE accounts
    ADD COLUMN refresh_token      TEXT,
    ADD COLUMN token_expires_at   TIMESTAMPTZ,
    -- The platform's rate-limit budget for this account: no call before this time.
    ADD COLUMN rate_limited_until TIMESTAMPTZ,
    -- A disconnected account keeps its row (published targets refer to it) but is never used.
    ADD COLUMN disconnected_at    TIMESTAMPTZ;

ALTER TABLE posts DROP CONSTRAINT posts_status_check;
ALTER TABLE posts ADD CONSTRAINT posts_status_check CHECK (status IN (
    'draft', 'scheduled', 'publishing', 'published', 'partially_published', 'failed', 'cancelled'));
-- A draft has no time yet.
ALTER TABLE posts ALTER COLUMN scheduled_at DROP NOT NULL;
ALTER TABLE posts ADD COLUMN cancelled_at TIMESTAMPTZ;

ALTER TABLE post_targets DROP CONSTRAINT post_targets_state_check;
ALTER TABLE post_targets ADD CONSTRAINT post_targets_state_check CHECK (state IN (
    'pending', 'in_flight', 'done', 'failed', 'unknown', 'needs_attention', 'cancelled'));
ALTER TABLE post_targets
    -- Fixed when the first attempt starts: Bluesky's createdAt/TID, the lookup lower bound.
    ADD COLUMN first_attempt_at TIMESTAMPTZ,
    -- A platform reference saved between steps (Instagram/Threads container id).
    ADD COLUMN checkpoint       TEXT,
    -- Backoff, rate limit or open circuit: no attempt before this time.
    ADD COLUMN not_before       TIMESTAMPTZ;

-- Retry rounds: each armed retry of a publishing post has its own due message; only the
-- current round is acted on. `wake_at` is when the current round should fire (the sweeper
-- re-arms a round whose message was lost).
ALTER TABLE posts
    ADD COLUMN round   INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN wake_at TIMESTAMPTZ;
UPDATE posts SET wake_at = scheduled_at WHERE status IN ('scheduled', 'publishing');
DROP INDEX posts_due;
CREATE INDEX posts_wake ON posts (wake_at) WHERE status IN ('scheduled', 'publishing');
