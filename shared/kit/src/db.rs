//! Postgres through diesel-async + bb8. Each service owns one schema: every pooled connection
//! has its `search_path` set to it, so unqualified table names are that service's tables.
//! Migrations (the kit's, then the service's) run at start-up under an advisory lock.

use crate::error::KitError;
use diesel::ConnectionError;
use diesel_async::pooled_connection::bb8::Pool;
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig};
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use futures::FutureExt;
use std::time::Duration;

pub use diesel_async::pooled_connection::bb8::PooledConnection;

/// The kit's own tables (outbox, inbox), migrated into every service schema.
pub const KIT_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

pub type DbPool = Pool<AsyncPgConnection>;

/// A schema name is spliced into SQL, so only plain identifiers are allowed.
pub fn check_schema_name(schema: &str) -> Result<(), KitError> {
    let ok = !schema.is_empty()
        && schema.len() <= 63
        && schema
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !schema.as_bytes()[0].is_ascii_digit();
    if ok {
        Ok(())
    } else {
        Err(KitError::Database(format!(
            "schema name {schema:?} must be a lowercase identifier"
        )))
    }
}

#[derive(Clone)]
pub struct Db {
    pub pool: DbPool,
    pub schema: &'static str,
}

impl Db {
    pub async fn connect(
        url: &str,
        schema: &'static str,
        application_name: &str,
        size: u32,
    ) -> Result<Self, KitError> {
        check_schema_name(schema)?;
        let setup_sql = format!(
            "SET application_name = '{}'; SET search_path TO {schema}; SET statement_timeout = '30s'; SET idle_in_transaction_session_timeout = '60s'",
            application_name.replace('\'', "")
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

    pub async fn conn(&self) -> Result<PooledConnection<'_, AsyncPgConnection>, KitError> {
        self.pool.get().await.map_err(KitError::db)
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

/// Runs the kit's migrations and then `service` into `schema`, creating it if needed, under a
/// Postgres advisory lock so concurrent starts of several replicas migrate once.
pub async fn migrate(
    url: &str,
    schema: &'static str,
    service: EmbeddedMigrations,
) -> Result<usize, KitError> {
    check_schema_name(schema)?;
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || migrate_blocking(&url, schema, service))
        .await
        .map_err(|error| KitError::Migrations(error.to_string()))?
}

fn migrate_blocking(
    url: &str,
    schema: &str,
    service: EmbeddedMigrations,
) -> Result<usize, KitError> {
    use diesel::Connection;
    use diesel::connection::SimpleConnection;
    use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;

    let mig = |error: &dyn std::fmt::Display| KitError::Migrations(error.to_string());
    let mut conn = <AsyncConnectionWrapper<AsyncPgConnection> as Connection>::establish(url)
        .map_err(|e| mig(&e))?;
    SimpleConnection::batch_execute(&mut conn, &format!(
        "SELECT pg_advisory_lock(hashtext('herald.migrate.{schema}')); CREATE SCHEMA IF NOT EXISTS {schema}; SET search_path TO {schema}"
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
