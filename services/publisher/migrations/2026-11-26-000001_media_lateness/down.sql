UPDATE posts SET status = 'draft', scheduled_at = NULL WHERE status = 'held';
ALTER TABLE posts DROP CONSTRAINT posts_status_check;
ALTER TABLE posts ADD CONSTRAINT posts_status_check CHECK (status IN (
    'draft', 'scheduled', 'publishing', 'published', 'partially_published', 'failed',
    'cancelled'));
ALTER TABLE posts DROP COLUMN max_late_secs, DROP COLUMN media;
