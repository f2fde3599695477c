//! Tenant isolation in the database, below the repositories: every tenant-owned table has a
//! row-level-security policy keyed on two settings of the connection, and services query as a
//! role the policies apply to. A query that forgets its tenant sees nothing, not everything.
//!
//! - `herald.tenant_id`: the tenant a connection acts for ([`crate::db::Db::tenant`]; inside
//!   group commit, each unit's own tenant, local to the shared transaction).
//! - `herald.scope = 'system'`: explicit cross-tenant access for machinery that is
//!   cross-tenant by nature (outbox relay, sweepers, migrations; [`crate::db::Db::system`]).
//!
//! The policy (installed by `SELECT kit_enable_tenant_isolation('<table>')` in a service's
//! migration, see the kit's migrations) lets a row through when its `tenant_id` is the
//! connection's tenant or the scope is `system`, for reading (`USING`) and for writing
//! (`WITH CHECK`). Tables are `FORCE`d, so the policy holds for their owner too; only
//! superusers and `BYPASSRLS` roles skip it, and the service role is checked to be neither.
//! See docs/adr/0008-row-level-security.md.

use herald_contracts::TenantId;

/// The setting that names the connection's tenant.
pub const TENANT_SETTING: &str = "herald.tenant_id";
/// The setting that opens every tenant's rows (`'system'`) to cross-tenant machinery.
pub const SCOPE_SETTING: &str = "herald.scope";
/// The role services query as unless `HERALD_DB_ROLE` names another.
pub const DEFAULT_SERVICE_ROLE: &str = "herald_service";

/// Whose rows a pooled connection sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// No tenant: every tenant-owned table reads as empty and refuses writes.
    Nobody,
    /// One tenant's rows, from a verified identity or a message envelope.
    Tenant(TenantId),
    /// Every tenant's rows; the reason says which cross-tenant machinery asked.
    System(&'static str),
}

impl Scope {
    /// One statement that sets both settings for the session (the connection keeps them until
    /// its next checkout sets them again). A tenant id is a UUID, so splicing it is safe, and
    /// the simple query protocol makes this a single round trip.
    pub(crate) fn session_sql(&self) -> String {
        let (tenant, scope) = match self {
            Scope::Nobody => (String::new(), ""),
            Scope::Tenant(tenant) => (tenant.to_string(), ""),
            Scope::System(_) => (String::new(), "system"),
        };
        format!(
            "SELECT set_config('{TENANT_SETTING}', '{tenant}', false), set_config('{SCOPE_SETTING}', '{scope}', false)"
        )
    }
}

/// One statement that acts for `tenant` until the end of the current transaction (a unit of
/// group commit: several tenants' units share one transaction, each with its own tenant), and
/// holds the tenant's erasure lock shared until then: an erasure of the tenant (which takes it
/// exclusively, [`erasure_lock_sql`]) waits for the unit to commit and then deletes what it
/// wrote, and a unit that starts after the erasure waits for it and then sees the tenant
/// erased (`kit_erased_tenants`), so no write of a transactional consumer outlives an erasure.
pub(crate) fn transaction_tenant_sql(tenant: TenantId) -> String {
    format!(
        "SELECT set_config('{TENANT_SETTING}', '{tenant}', true), pg_advisory_xact_lock_shared({})",
        erasure_lock_key(tenant)
    )
}

/// The advisory lock key of `tenant`'s erasure.
fn erasure_lock_key(tenant: TenantId) -> String {
    format!("hashtextextended('herald.tenant.{tenant}', 0)")
}

/// Takes `tenant`'s erasure lock exclusively until the end of the transaction (the erasure
/// handlers, before they delete): every group-commit unit of the tenant in flight commits
/// first.
pub(crate) fn erasure_lock_sql(tenant: TenantId) -> String {
    format!("SELECT pg_advisory_xact_lock({})", erasure_lock_key(tenant))
}

/// Takes `tenant`'s erasure lock shared until the end of the transaction (what each unit of
/// group commit does; for handlers that run their own transaction).
pub(crate) fn erasure_lock_shared_sql(tenant: TenantId) -> String {
    format!(
        "SELECT pg_advisory_xact_lock_shared({})",
        erasure_lock_key(tenant)
    )
}

/// Creates the service role if it does not exist (CREATE ROLE is cluster-global and several
/// services, or test databases, may migrate at once: a concurrent creation is not an error)
/// and lets the migrating user `SET ROLE` to it.
pub(crate) fn ensure_role_sql(role: &str) -> String {
    format!(
        r#"SELECT pg_advisory_lock(hashtext('herald.migrate.role'));
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
        CREATE ROLE "{role}" NOLOGIN NOSUPERUSER NOBYPASSRLS;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;
DO $$
BEGIN
    IF NOT pg_has_role(current_user, '{role}', 'MEMBER') THEN
        EXECUTE format('GRANT "{role}" TO %I', current_user);
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;
SELECT pg_advisory_unlock(hashtext('herald.migrate.role'));"#
    )
}

/// Data access for the role on everything in `schema`, now and for tables created later; no
/// write access to the migrations table. Only the schema's owner (or a member) can grant, so a
/// login that is merely a member of the service role (migrations applied by an owner login
/// beforehand) skips this.
pub(crate) fn grants_sql(schema: &str, role: &str) -> String {
    format!(
        r#"DO $$
BEGIN
    IF pg_has_role(current_user, (SELECT nspowner FROM pg_namespace WHERE nspname = '{schema}'), 'MEMBER') THEN
        GRANT USAGE ON SCHEMA {schema} TO "{role}";
        GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO "{role}";
        GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO "{role}";
        ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO "{role}";
        ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT USAGE, SELECT ON SEQUENCES TO "{role}";
        REVOKE INSERT, UPDATE, DELETE ON {schema}.__diesel_schema_migrations FROM "{role}";
    END IF;
END $$;"#
    )
}

/// Whether `role` would skip the policies (superuser or BYPASSRLS): one row, `bypasses`.
pub(crate) const ROLE_BYPASSES_SQL: &str =
    "SELECT (rolsuper OR rolbypassrls) AS bypasses FROM pg_roles WHERE rolname = $1";

/// Tables of schema `$1` with a `tenant_id` column that are not isolated: row-level security
/// not enabled, not forced, or no policy. One row per table, `name`.
pub(crate) const UNISOLATED_TABLES_SQL: &str = "SELECT c.relname::text AS name \
     FROM pg_class c \
     JOIN pg_namespace n ON n.oid = c.relnamespace \
     JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped \
     WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') \
       AND NOT (c.relrowsecurity AND c.relforcerowsecurity \
                AND EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid)) \
     ORDER BY 1";

#[derive(diesel::QueryableByName)]
pub(crate) struct TableName {
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub name: String,
}

#[derive(diesel::QueryableByName)]
pub(crate) struct Bypasses {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    pub bypasses: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_set_both_settings_in_one_statement() {
        let tenant = TenantId::new();
        assert_eq!(
            Scope::Tenant(tenant).session_sql(),
            format!(
                "SELECT set_config('herald.tenant_id', '{tenant}', false), set_config('herald.scope', '', false)"
            )
        );
        assert!(
            Scope::System("test")
                .session_sql()
                .contains("set_config('herald.scope', 'system', false)")
        );
        assert!(
            Scope::Nobody
                .session_sql()
                .contains("set_config('herald.tenant_id', '', false)")
        );
    }
}
