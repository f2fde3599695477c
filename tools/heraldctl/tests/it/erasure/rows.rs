//! Every service's rows, counted through system-scope connections (as the services' role, with
//! row-level security in force and the explicit cross-tenant scope), found by column name so
//! a table added later is counted too.

use herald_kit::db::Db;
use herald_kit::diesel;
use herald_kit::diesel::sql_types::{BigInt, Text};
use herald_kit::diesel_async::RunQueryDsl;
use std::collections::BTreeMap;

pub const SCHEMAS: [&str; 6] = [
    "auth",
    "publisher",
    "renderer",
    "insights",
    "billing",
    "notifier",
];

#[derive(diesel::QueryableByName)]
struct Table {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// `schema.table` → rows.
pub type Counts = BTreeMap<String, i64>;

pub struct Rows {
    dbs: Vec<Db>,
}

impl Rows {
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let mut dbs = Vec::new();
        for schema in SCHEMAS {
            dbs.push(Db::connect(url, schema, "erasure-test", 2).await?);
        }
        Ok(Self { dbs })
    }

    /// Tables of `db`'s schema with every one of `columns`.
    async fn tables(db: &Db, columns: &[&str]) -> anyhow::Result<Vec<String>> {
        let mut conn = db.system("erasure test: the schema's tables").await?;
        let wanted = columns
            .iter()
            .map(|c| format!("'{c}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let tables: Vec<Table> = diesel::sql_query(format!(
            "SELECT c.relname::text AS name FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = '{}' AND c.relkind IN ('r', 'p') \
               AND (SELECT count(*) FROM pg_attribute a WHERE a.attrelid = c.oid \
                    AND NOT a.attisdropped AND a.attname IN ({wanted})) = {} \
             ORDER BY 1",
            db.schema,
            columns.len()
        ))
        .load(&mut conn)
        .await?;
        Ok(tables.into_iter().map(|t| t.name).collect())
    }

    async fn count(db: &Db, sql: String) -> anyhow::Result<i64> {
        let mut conn = db
            .system("erasure test: counts rows of every tenant")
            .await?;
        let count: Count = diesel::sql_query(sql).get_result(&mut conn).await?;
        Ok(count.n)
    }

    /// Rows of `tenant` in every table with a `tenant_id`, in every service.
    pub async fn of_tenant(&self, tenant: &str) -> anyhow::Result<Counts> {
        let mut counts = Counts::new();
        for db in &self.dbs {
            for table in Self::tables(db, &["tenant_id"]).await? {
                let sql = format!(
                    "SELECT count(*) AS n FROM {}.{table} WHERE tenant_id = '{tenant}'",
                    db.schema
                );
                counts.insert(
                    format!("{}.{table}", db.schema),
                    Self::count(db, sql).await?,
                );
            }
        }
        Ok(counts)
    }

    /// Rows naming `user` in every service: every table with a `user_id`, auth's user row,
    /// audit events where they are actor or target, erasure records, deliveries to `email`.
    pub async fn of_user(&self, user: &str, email: &str) -> anyhow::Result<Counts> {
        let mut counts = Counts::new();
        for db in &self.dbs {
            for table in Self::tables(db, &["user_id"]).await? {
                let sql = format!(
                    "SELECT count(*) AS n FROM {}.{table} WHERE user_id = '{user}'",
                    db.schema
                );
                counts.insert(
                    format!("{}.{table}", db.schema),
                    Self::count(db, sql).await?,
                );
            }
        }
        let auth = &self.dbs[0];
        let notifier = &self.dbs[5];
        for (name, db, sql) in [
            (
                "auth.users",
                auth,
                format!(
                    "SELECT count(*) AS n FROM auth.users WHERE id = '{user}' OR lower(email) = lower('{email}')"
                ),
            ),
            (
                "auth.audit_events (actor or target)",
                auth,
                format!(
                    "SELECT count(*) AS n FROM auth.audit_events WHERE actor_id = '{user}' OR target_id = '{user}'"
                ),
            ),
            (
                "auth.erasures (subject or requester)",
                auth,
                format!(
                    "SELECT count(*) AS n FROM auth.erasures WHERE subject_id::text = '{user}' OR requested_by::text = '{user}'"
                ),
            ),
            (
                "notifier.email_deliveries (to the address)",
                notifier,
                format!(
                    "SELECT count(*) AS n FROM notifier.email_deliveries WHERE lower(to_address) = lower('{email}')"
                ),
            ),
        ] {
            counts.insert(name.to_owned(), Self::count(db, sql).await?);
        }
        Ok(counts)
    }

    /// A scalar read through auth's system scope (audit rows of a surviving tenant).
    pub async fn auth_count(&self, sql: String) -> anyhow::Result<i64> {
        Self::count(&self.dbs[0], sql).await
    }
}

/// The tables in `counts` that hold rows.
pub fn nonzero(counts: &Counts) -> Vec<(&String, &i64)> {
    counts.iter().filter(|(_, n)| **n > 0).collect()
}

/// The services (schemas) in which `counts` has at least one row.
pub fn services_with_rows(counts: &Counts) -> Vec<String> {
    let mut services: Vec<String> = nonzero(counts)
        .into_iter()
        .filter_map(|(table, _)| table.split('.').next().map(str::to_owned))
        .collect();
    services.dedup();
    services
}
