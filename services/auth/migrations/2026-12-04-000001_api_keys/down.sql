SELECT kit_disable_tenant_isolation('api_keys');
DROP TABLE api_keys;
