DROP FUNCTION kit_disable_tenant_isolation(regclass);
DROP FUNCTION kit_enable_tenant_isolation(regclass);
