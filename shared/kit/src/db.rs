//! Postgres through diesel-async + bb8. Each service owns one schema: every pooled connection
//! has its `search_path` set to it, so unqualified table names are that service's tables.
//! Migrations (the kit's, then the service's) run at start-up under an advisory lock.
//!
//! Every pooled connection queries as the service role (`SET ROLE`, `HERALD_DB_ROLE`), which
//! tenant-owned tables' row-level-security policies apply to, and every checkout says whose
//! rows it sees ([`crate::tenancy`]): [`Db::tenant`] for one tenant, [`Db::system`] for
//! cross-tenant machinery, and [`Db::conn`] for nobody's (tables without a tenant only).

use crate::error::KitError;
use crate::tenancy::{self, Scope};
use diesel::ConnectionError;
use diesel_async::pooled_connection::bb8::Pool;
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use futures::FutureExt;
use herald_contracts::TenantId;
use std::time::Duration;

pub use crate::tenancy::DEFAULT_SERVICE_ROLE;
pub use diesel_async::pooled_connection::bb8::PooledConnection;

/// The kit's own tables (outbox, inbox), migrated into every service schema.
pub const KIT_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

pub type DbPool = Pool<AsyncPgConnection>;

/// A checked-out connection.
pub type Conn<'a> = PooledConnection<'a, AsyncPgConnection>;

/// A schema name is spliced into SQL, so only plain identifiers are allowed.
pub fn check_schema_name(schema: &str) -> Result<(), KitError> {
    check_identifier("schema", schema)
}

/// Schema and role names are spliced into SQL, so only plain lowercase identifiers pass.
pub fn check_identifier(kind: &str, name: &str) -> Result<(), KitError> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit();
    if ok {
        Ok(())
    } else {
        Err(KitError::Database(format!(
            "{kind} name {name:?} must be a lowercase identifier"
        )))
    }
}

#[derive(Clone)]
pub struct Db {
    /// The pool itself: a connection taken from it directly keeps whatever scope its last
    /// user set; go through [`Db::tenant`], [`Db::system`] or [`Db::conn`] instead.
    pub pool: DbPool,
    pub schema: &'static str,
}

impl Db {
    /// A pool whose connections query as the default service role.
    pub async fn connect(
        url: &str,
        schema: &'static str,
        application_name: &str,
        size: u32,
    ) -> Result<Self, KitError> {
        Self::connect_as(url, schema, DEFAULT_SERVICE_ROLE, application_name, size).await
    }

    /// A pool whose connections query as `role` (created or checked by [`migrate_as`]).
    pub async fn connect_as(
        url: &str,
        schema: &'static str,
        role: &str,
        application_name: &str,
        size: u32,
    ) -> Result<Self, KitError> {
        check_schema_name(schema)?;
        check_identifier("role", role)?;
        let setup_sql = format!(
            "SET application_name = '{}'; SET search_path TO {schema}; SET statement_timeout = '30s'; SET idle_in_transaction_session_timeout = '60s'; SET ROLE \"{role}\"; {}",
            application_name.replace('\'', ""),
            Scope::Nobody.session_sql(),
        );
        let mut config = ManagerConfig::default();
        config.custom_setup = Box::new(move |url| {
            let setup_sql = setup_sql.clone();
            async move {
                let mut conn = AsyncPgConnection::establish(url).await?;
                conn.batch_execute(&setup_sql)
                    .await
                    .map_err(ConnectionError::CouldntSetupConfiguration)?;
                Ok(conn)
            }
            .boxed()
        });
        let manager = AsyncDieselConnectionManager::new_with_config(url, config);
        let pool = Pool::builder()
            .max_size(size)
            .connection_timeout(Duration::from_secs(5))
            .build_unchecked(manager);
        Ok(Self { pool, schema })
    }

    /// A connection acting for `tenant`: tenant-owned tables show and accept only its rows.
    /// The tenant comes from the verified identity (`RpcCtx::tenant`) or a message envelope.
    pub async fn tenant(&self, tenant: TenantId) -> Result<Conn<'_>, KitError> {
        self.scoped(Scope::Tenant(tenant)).await
    }

    /// A connection that sees every tenant's rows, for machinery that is cross-tenant by
    /// nature (outbox relay, sweepers, look-ups by id before the tenant is known). `reason`
    /// names it; each use says in a comment why it cannot be tenant-scoped.
    pub async fn system(&self, reason: &'static str) -> Result<Conn<'_>, KitError> {
        tracing::trace!(db.scope = "system", reason, "cross-tenant connection");
        self.scoped(Scope::System(reason)).await
    }

    /// A connection acting for nobody: tenant-owned tables read as empty and refuse writes.
    /// For the kit's own tables and tables without a tenant; a forgotten scope lands here.
    pub async fn conn(&self) -> Result<Conn<'_>, KitError> {
        self.scoped(Scope::Nobody).await
    }

    /// Every checkout sets both settings, so nothing of the previous user's scope survives.
    async fn scoped(&self, scope: Scope) -> Result<Conn<'_>, KitError> {
        let mut conn = self.pool.get().await.map_err(KitError::db)?;
        conn.batch_execute(&scope.session_sql())
            .await
            .map_err(KitError::db)?;
        Ok(conn)
    }

    /// Readiness: a connection and a trivial query within a short deadline.
    pub async fn ping(&self) -> bool {
        let check = async {
            let mut conn = self.pool.get().await.ok()?;
            conn.batch_execute("SELECT 1").await.ok()
        };
        matches!(
            tokio::time::timeout(Duration::from_secs(2), check).await,
            Ok(Some(()))
        )
    }
}

/// Tables of `schema` with a `tenant_id` column that row-level security does not isolate
/// (not enabled, not forced, or without a policy). Empty when every tenant-owned table is.
pub async fn unisolated_tables(
    conn: &mut AsyncPgConnection,
    schema: &str,
) -> Result<Vec<String>, KitError> {
    let rows: Vec<tenancy::TableName> = diesel::sql_query(tenancy::UNISOLATED_TABLES_SQL)
        .bind::<diesel::sql_types::Text, _>(schema)
        .load(conn)
        .await?;
    Ok(rows.into_iter().map(|row| row.name).collect())
}

/// Runs the kit's migrations and then `service` into `schema` (see [`migrate_as`]), for the
/// default service role.
pub async fn migrate(
    url: &str,
    schema: &'static str,
    service: EmbeddedMigrations,
) -> Result<usize, KitError> {
    migrate_as(url, schema, DEFAULT_SERVICE_ROLE, service).await
}

/// Runs the kit's migrations and then `service` into `schema`, creating it if needed, under a
/// Postgres advisory lock so concurrent starts of several replicas migrate once. Then makes
/// sure the service role `role` exists (created if missing, when the user may), does not
/// bypass row-level security, and may use the schema's tables.
pub async fn migrate_as(
    url: &str,
    schema: &'static str,
    role: &str,
    service: EmbeddedMigrations,
) -> Result<usize, KitError> {
    check_schema_name(schema)?;
    check_identifier("role", role)?;
    let url = url.to_owned();
    let role = role.to_owned();
    tokio::task::spawn_blocking(move || migrate_blocking(&url, schema, &role, service))
        .await
        .map_err(|error| KitError::Migrations(error.to_string()))?
}

fn migrate_blocking(
    url: &str,
    schema: &str,
    role: &str,
    service: EmbeddedMigrations,
) -> Result<usize, KitError> {
    use diesel::Connection;
    use diesel::connection::SimpleConnection;
    use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;

    let mig = |error: &dyn std::fmt::Display| KitError::Migrations(error.to_string());
    let mut conn = <AsyncConnectionWrapper<AsyncPgConnection> as Connection>::establish(url)
        .map_err(|e| mig(&e))?;
    // Migrations are cross-tenant by nature: a data migration must see every tenant's rows
    // even where the tables' owner is subject to their policies (FORCE).
    SimpleConnection::batch_execute(&mut conn, &format!(
        "SELECT pg_advisory_lock(hashtext('herald.migrate.{schema}')); CREATE SCHEMA IF NOT EXISTS {schema}; SET search_path TO {schema}; {}",
        Scope::System("migrations").session_sql()
    ))
    .map_err(|e| mig(&e))?;
    let result = (|| {
        let kit = conn
            .run_pending_migrations(KIT_MIGRATIONS)
            .map_err(|e| mig(&e))?
            .len();
        let own = conn
            .run_pending_migrations(service)
            .map_err(|e| mig(&e))?
            .len();
        SimpleConnection::batch_execute(&mut conn, &tenancy::ensure_role_sql(role)).map_err(
            |e| {
                mig(&format!(
                    "cannot create or join the service role {role:?}: {e}"
                ))
            },
        )?;
        let bypasses: Vec<tenancy::Bypasses> = diesel::RunQueryDsl::load(
            diesel::sql_query(tenancy::ROLE_BYPASSES_SQL).bind::<diesel::sql_types::Text, _>(role),
            &mut conn,
        )
        .map_err(|e| mig(&e))?;
        if bypasses.iter().any(|row| row.bypasses) {
            return Err(mig(&format!(
                "the service role {role:?} bypasses row-level security (superuser or BYPASSRLS); services must query as a role that does not"
            )));
        }
        SimpleConnection::batch_execute(&mut conn, &tenancy::grants_sql(schema, role))
            .map_err(|e| mig(&e))?;
        let unisolated: Vec<tenancy::TableName> = diesel::RunQueryDsl::load(
            diesel::sql_query(tenancy::UNISOLATED_TABLES_SQL)
                .bind::<diesel::sql_types::Text, _>(schema),
            &mut conn,
        )
        .map_err(|e| mig(&e))?;
        if !unisolated.is_empty() {
            let tables: Vec<&str> = unisolated.iter().map(|t| t.name.as_str()).collect();
            tracing::warn!(schema, tables = ?tables, "tenant-owned tables without row-level security");
        }
        Ok(kit + own)
    })();
    let _ = SimpleConnection::batch_execute(
        &mut conn,
        &format!("SELECT pg_advisory_unlock(hashtext('herald.migrate.{schema}'))"),
    );
    result
}

/// Maps a diesel error to the kit's error type (for `?` in repositories).
pub fn db_error(error: diesel::result::Error) -> KitError {
    KitError::Database(error.to_string())
}
