//! Row-level security checks shared by the services' RLS tests (docs/adr/0008).

use anyhow::{Result, ensure};
use herald_kit::db::Db;

/// Whether a write was refused by a row-level-security policy (`WITH CHECK`), and not by
/// anything else (a constraint, a missing privilege).
pub fn is_rls_refusal(error: &herald_kit::diesel::result::Error) -> bool {
    error
        .to_string()
        .contains("violates row-level security policy")
}

/// Every table of the pool's schema with a `tenant_id` column has row-level security enabled,
/// forced and a policy, and the pool queries as a role the policies apply to.
pub async fn assert_isolated(db: &Db) -> Result<()> {
    let mut conn = db.conn().await?;
    let unisolated = herald_kit::db::unisolated_tables(&mut conn, db.schema).await?;
    ensure!(
        unisolated.is_empty(),
        "tenant-owned tables of {} without row-level security: {unisolated:?}",
        db.schema
    );
    #[derive(herald_kit::diesel::QueryableByName)]
    struct Role {
        #[diesel(sql_type = herald_kit::diesel::sql_types::Bool)]
        bypasses: bool,
    }
    use herald_kit::diesel_async::RunQueryDsl;
    let role: Role = herald_kit::diesel::sql_query(
        "SELECT (rolsuper OR rolbypassrls) AS bypasses FROM pg_roles WHERE rolname = current_user",
    )
    .get_result(&mut conn)
    .await?;
    ensure!(
        !role.bypasses,
        "the pool's role bypasses row-level security"
    );
    Ok(())
}
