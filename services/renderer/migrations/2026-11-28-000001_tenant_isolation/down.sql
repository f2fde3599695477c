SELECT kit_disable_tenant_isolation('renders');
