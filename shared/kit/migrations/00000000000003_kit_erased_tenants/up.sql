-- Tenants erased in this service (GDPR erasure, docs/adr/0009-gdpr-export-and-erasure.md):
-- a transactional consumer acknowledges a message of an erased tenant without effect, so an
-- event that was in flight when the tenant was erased (a usage event, a notification, an
-- audit event) cannot bring its rows back. Holds ids only, nothing personal. Not tenant data
-- (it is read before any tenant's rows are visible), hence no `tenant_id` column and no policy.
CREATE TABLE kit_erased_tenants (
    erased_tenant  UUID PRIMARY KEY,
    erased_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
