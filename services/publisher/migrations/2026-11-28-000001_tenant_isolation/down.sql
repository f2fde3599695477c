SELECT kit_disable_tenant_isolation('target_failures');
SELECT kit_disable_tenant_isolation('post_targets');
SELECT kit_disable_tenant_isolation('posts');
SELECT kit_disable_tenant_isolation('accounts');
