ALTER TABLE post_targets DROP COLUMN not_before, DROP COLUMN checkpoint, DROP COLUMN first_attempt_at;
ALTER TABLE post_targets DROP CONSTRAINT post_targets_state_check;
ALTER TABLE post_targets ADD CONSTRAINT post_targets_state_check CHECK (state IN ('pending', 'in_flight', 'done', 'failed', 'unknown'));
ALTER TABLE posts DROP COLUMN cancelled_at;
ALTER TABLE posts DROP CONSTRAINT posts_status_check;
ALTER TABLE posts ADD CONSTRAINT posts_status_check CHECK (status IN ('scheduled', 'publishing', 'published', 'failed'));
ALTER TABLE accounts DROP COLUMN disconnected_at, DROP COLUMN rate_limited_until, DROP COLUMN token_expires_at, DROP COLUMN refresh_token;
