SELECT kit_disable_tenant_isolation('email_deliveries');
SELECT kit_disable_tenant_isolation('notifications');
SELECT kit_disable_tenant_isolation('recipients');
