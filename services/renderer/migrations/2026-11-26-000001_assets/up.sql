-- Rendered images are read by their content hash (the public media origin, the publisher's
-- uploads).
CREATE INDEX renders_content_hash ON renders (content_hash) WHERE status = 'completed';
