-- Images attached to a post (renderer assets, by render id and content hash), and the
-- lateness policy: a post that comes due more than max_late_secs after its time is held for a
-- person instead of published.
ALTER TABLE posts
    ADD COLUMN media         JSONB   NOT NULL DEFAULT '[]',
    ADD COLUMN max_late_secs INTEGER CHECK (max_late_secs >= 0);

ALTER TABLE posts DROP CONSTRAINT posts_status_check;
ALTER TABLE posts ADD CONSTRAINT posts_status_check CHECK (status IN (
    'draft', 'scheduled', 'held', 'publishing', 'published', 'partially_published', 'failed',
    'cancelled'));
