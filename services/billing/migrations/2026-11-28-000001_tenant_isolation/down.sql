SELECT kit_disable_tenant_isolation('usage_ledger');
