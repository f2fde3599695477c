-- Row-level security on every tenant-owned table (docs/adr/0008-row-level-security.md).
SELECT kit_enable_tenant_isolation('usage_ledger');
