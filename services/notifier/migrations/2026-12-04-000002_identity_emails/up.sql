-- Emails auth asks for (identity.email-requested: verification, password reset, invitation)
-- go through the same delivery state machine as notifications' emails, without an in-app
-- notification: they are for one address, and carry a single-use link.
ALTER TABLE email_deliveries ALTER COLUMN notification_id DROP NOT NULL;
-- The body of such an email holds a secret token: it is blanked once the email is sent
-- (reconciliation needs only the Message-ID), so the token does not stay at rest here.
ALTER TABLE email_deliveries ADD COLUMN redact_after_send BOOLEAN NOT NULL DEFAULT false;
