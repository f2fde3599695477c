DELETE FROM email_deliveries WHERE notification_id IS NULL;
ALTER TABLE email_deliveries DROP COLUMN redact_after_send;
ALTER TABLE email_deliveries ALTER COLUMN notification_id SET NOT NULL;
