//! A fresh database per test, cloned from a template database migrated once per test binary.
//!
//! `CREATE DATABASE ... TEMPLATE` fails while any session is connected to the template, so
//! clones are serialized and the template is closed to connections once migrated.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use diesel::sql_types::{BigInt, Bool, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures::future::BoxFuture;
use tokio::sync::OnceCell;
use uuid::Uuid;

use crate::postgres::PgCluster;
use crate::process;

/// How to build a service's template database: `migrate` receives its URL and runs the
/// service's migrations. `name` (`[a-z0-9_]`, at most 20 chars) identifies the template, so
/// it must be unique per service.
#[derive(Clone, Copy)]
pub struct Template {
    pub name: &'static str,
    pub migrate: fn(String) -> BoxFuture<'static, anyhow::Result<()>>,
}

/// A database that is dropped (`WITH (FORCE)`, closing leftover connections) on drop.
pub struct TestDb {
    url: String,
    name: String,
    admin_url: String,
}

impl TestDb {
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

// By hand: the URLs may carry a password.
impl std::fmt::Debug for TestDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDb")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        if let Err(e) = block_on_thread(execute_owned(self.admin_url.clone(), sql)) {
            eprintln!(
                "herald-testkit: cannot drop test database {}: {e:#}",
                self.name
            );
        }
    }
}

/// A server on which tests may create databases: the one `DATABASE_URL` points at, or a
/// private cluster.
pub struct Postgres {
    admin_url: String,
    cluster: Option<PgCluster>,
    /// Template name → name of its migrated template database.
    templates: Mutex<HashMap<&'static str, Arc<OnceCell<String>>>>,
    clone_lock: tokio::sync::Mutex<()>,
}

impl Postgres {
    /// Uses an existing server; `database_url` names any database there, and the role must be
    /// allowed to CREATE DATABASE. Administration goes through its `postgres` database.
    pub fn external(database_url: &str) -> Result<Postgres> {
        Ok(Postgres::new(
            with_database(database_url, "postgres")?,
            None,
        ))
    }

    /// Starts a private cluster in a temp dir, stopped and deleted when this is dropped.
    pub async fn private() -> Result<Postgres> {
        let cluster = PgCluster::start_temporary()
            .await
            .context("starting a private PostgreSQL cluster")?;
        Ok(Postgres::new(cluster.url("postgres"), Some(cluster)))
    }

    fn new(admin_url: String, cluster: Option<PgCluster>) -> Postgres {
        Postgres {
            admin_url,
            cluster,
            templates: Mutex::new(HashMap::new()),
            clone_lock: tokio::sync::Mutex::new(()),
        }
    }

    /// URL of the server's `postgres` database, for administration.
    pub fn admin_url(&self) -> &str {
        &self.admin_url
    }

    /// URL of another database on the same server, with the same credentials.
    pub fn url(&self, database: &str) -> Result<String> {
        with_database(&self.admin_url, database)
    }

    /// The private cluster, if this is not an external server.
    pub fn cluster(&self) -> Option<&PgCluster> {
        self.cluster.as_ref()
    }

    /// A new, migrated database of its own for one test.
    pub async fn fresh_db(&self, template: &Template) -> Result<TestDb> {
        let template_db = self.template_db(template).await?;
        let name = format!("herald_t_{}", Uuid::new_v4().simple());
        let sql = format!("CREATE DATABASE \"{name}\" TEMPLATE \"{template_db}\"");
        {
            let _one_clone_at_a_time = self.clone_lock.lock().await;
            execute(&self.admin_url, &sql)
                .await
                .with_context(|| format!("cloning {template_db}"))?;
        }
        Ok(TestDb {
            url: self.url(&name)?,
            name,
            admin_url: self.admin_url.clone(),
        })
    }

    pub async fn database_exists(&self, name: &str) -> Result<bool> {
        let mut conn = connect(&self.admin_url).await?;
        let query = diesel::dsl::sql::<Bool>("EXISTS (SELECT 1 FROM pg_database WHERE datname = ")
            .bind::<Text, _>(name.to_owned())
            .sql(")");
        Ok(diesel::select(query).get_result(&mut conn).await?)
    }

    async fn template_db(&self, template: &Template) -> Result<String> {
        if template.name.is_empty()
            || template.name.len() > 20
            || !template
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            bail!(
                "template name {:?} must be 1-20 characters of [a-z0-9_]",
                template.name
            );
        }
        let cell = Arc::clone(
            self.templates
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(template.name)
                .or_default(),
        );
        let name = cell
            .get_or_try_init(|| self.create_template(template))
            .await
            .with_context(|| format!("preparing the `{}` template database", template.name))?;
        Ok(name.clone())
    }

    async fn create_template(&self, template: &Template) -> Result<String> {
        let suffix = &Uuid::new_v4().simple().to_string()[..8];
        let name = format!(
            "herald_tpl_{}_{}_{suffix}",
            template.name,
            std::process::id()
        );
        // template0, because CREATE DATABASE fails while anyone is connected to template1.
        execute(
            &self.admin_url,
            &format!("CREATE DATABASE \"{name}\" TEMPLATE template0"),
        )
        .await?;
        let migrated = async {
            (template.migrate)(self.url(&name)?)
                .await
                .context("running the template's migrate fn")?;
            self.close_to_connections(&name).await
        };
        if let Err(e) = migrated.await {
            let _ = execute(
                &self.admin_url,
                &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
            )
            .await;
            return Err(e);
        }
        Ok(name)
    }

    /// Waits for the migrate fn's connections to go away, then refuses new ones, so that
    /// nothing (a stray pool, a test given the wrong URL) can block the clones.
    async fn close_to_connections(&self, database: &str) -> Result<()> {
        let mut conn = connect(&self.admin_url).await?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let sessions = diesel::dsl::sql::<BigInt>(
                "(SELECT count(*) FROM pg_stat_activity WHERE datname = ",
            )
            .bind::<Text, _>(database.to_owned())
            .sql(")");
            let open: i64 = diesel::select(sessions).get_result(&mut conn).await?;
            if open == 0 {
                break;
            }
            if Instant::now() >= deadline {
                bail!(
                    "the migrate fn left {open} connection(s) open to {database}; close them before returning"
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let sql = format!("ALTER DATABASE \"{database}\" WITH ALLOW_CONNECTIONS false");
        diesel::sql_query(sql).execute(&mut conn).await?;
        Ok(())
    }

    /// Drops the template databases. A private cluster is deleted whole, so only an external
    /// server needs this.
    fn drop_templates(&self) {
        if self.cluster.is_some() {
            return;
        }
        let cells: Vec<_> = self
            .templates
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain()
            .collect();
        for name in cells
            .into_iter()
            .filter_map(|(_, cell)| cell.get().cloned())
        {
            let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
            if let Err(e) = block_on_thread(execute_owned(self.admin_url.clone(), sql)) {
                eprintln!("herald-testkit: cannot drop template database {name}: {e:#}");
            }
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.drop_templates();
    }
}

/// The per-test-binary server: `DATABASE_URL` if set, else a private cluster started on first
/// use. Its templates (or whole cluster) are removed when the test binary exits.
pub async fn postgres() -> Result<&'static Postgres> {
    static SHARED: OnceCell<Postgres> = OnceCell::const_new();
    SHARED
        .get_or_try_init(|| async {
            let pg = match std::env::var("DATABASE_URL") {
                Ok(url) if !url.is_empty() => Postgres::external(&url).context("DATABASE_URL")?,
                _ => Postgres::private().await?,
            };
            process::at_exit(Box::new(|| {
                if let Some(pg) = SHARED.get() {
                    pg.drop_templates();
                    if let Some(cluster) = &pg.cluster {
                        cluster.shutdown();
                    }
                }
            }));
            Ok(pg)
        })
        .await
}

/// Replaces the database in a `postgres://` URL, keeping credentials, host and parameters.
fn with_database(url: &str, database: &str) -> Result<String> {
    let authority = url
        .find("://")
        .map(|i| i + 3)
        .ok_or_else(|| anyhow!("not a URL: {url:?}"))?;
    let (base, query) = url.split_at(url.find('?').unwrap_or(url.len()));
    let path = base[authority..]
        .find('/')
        .map_or(base.len(), |i| authority + i);
    Ok(format!("{}/{database}{query}", &base[..path]))
}

async fn connect(url: &str) -> Result<AsyncPgConnection> {
    // Passwords stay out of error messages.
    let shown = url
        .split_once('@')
        .map_or(url.to_owned(), |(_, host)| format!("…@{host}"));
    AsyncPgConnection::establish(url)
        .await
        .with_context(|| format!("connecting to {shown}"))
}

async fn execute(url: &str, sql: &str) -> Result<()> {
    let mut conn = connect(url).await?;
    diesel::sql_query(sql)
        .execute(&mut conn)
        .await
        .with_context(|| format!("executing {sql}"))?;
    Ok(())
}

async fn execute_owned(url: String, sql: String) -> Result<()> {
    execute(&url, &sql).await
}

/// Runs `future` to completion from synchronous code (Drop, exit hooks) on a thread with its
/// own runtime, since the caller may itself be inside a runtime that must not be blocked on.
fn block_on_thread(future: impl Future<Output = Result<()>> + Send + 'static) -> Result<()> {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(future)
    })
    .join()
    .map_err(|_| anyhow!("the cleanup thread panicked"))?
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn replaces_the_database_in_urls() {
        let cases = [
            (
                "postgres://u:p@h:5432/app",
                "postgres://u:p@h:5432/postgres",
            ),
            (
                "postgres://u@h/app?sslmode=disable",
                "postgres://u@h/postgres?sslmode=disable",
            ),
            ("postgresql://h", "postgresql://h/postgres"),
            (
                "postgres:///app?host=/run/pg",
                "postgres:///postgres?host=/run/pg",
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(
                with_database(input, "postgres").ok().as_deref(),
                Some(expected)
            );
        }
    }
}
