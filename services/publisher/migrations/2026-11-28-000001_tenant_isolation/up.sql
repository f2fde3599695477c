-- Row-level security on every tenant-owned table (docs/adr/0008-row-level-security.md).
SELECT kit_enable_tenant_isolation('accounts');
SELECT kit_enable_tenant_isolation('posts');
SELECT kit_enable_tenant_isolation('post_targets');
SELECT kit_enable_tenant_isolation('target_failures');
