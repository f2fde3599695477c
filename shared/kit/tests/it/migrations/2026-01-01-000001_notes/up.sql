-- A tenant-owned table for the kit's row-level-security tests.
CREATE TABLE notes (
    id         BIGSERIAL PRIMARY KEY,
    tenant_id  UUID NOT NULL,
    body       TEXT NOT NULL
);
SELECT kit_enable_tenant_isolation('notes');
