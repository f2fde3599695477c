SELECT kit_disable_tenant_isolation('refresh_tokens');
SELECT kit_disable_tenant_isolation('memberships');
DROP TABLE invitations;
DROP TABLE user_tokens;
ALTER TABLE users DROP COLUMN email_verified_at;
