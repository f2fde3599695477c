//! The servers the fleet needs, private to this `up`: a nats-server with JetStream and, unless
//! `DATABASE_URL` names one, a Postgres cluster, both keeping their data under `.herald/`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use diesel::sql_types::{Bool, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use herald_testkit::{NatsServer, PgCluster};

/// The database the services share (each in its own schema).
pub const DATABASE: &str = "herald";

pub async fn start_nats(port: u16, store_dir: PathBuf) -> Result<NatsServer> {
    // Blocking: it waits for the server's health check. If `up` is interrupted meanwhile, the
    // server is dropped, and so stopped, when the task finishes.
    tokio::task::spawn_blocking(move || NatsServer::start_at(port, store_dir))
        .await
        .context("the nats-server start task failed")?
        .context("starting nats-server")
}

/// Starts the local cluster (initdb on first use) and creates the `herald` database in it.
pub async fn start_postgres(data_dir: PathBuf, port: u16) -> Result<PgCluster> {
    let cluster = PgCluster::start_at(data_dir, port)
        .await
        .context("starting PostgreSQL")?;
    create_database_if_missing(&cluster.url("postgres"), DATABASE).await?;
    Ok(cluster)
}

pub async fn create_database_if_missing(admin_url: &str, name: &str) -> Result<()> {
    let mut conn = AsyncPgConnection::establish(admin_url)
        .await
        .context("connecting to the local PostgreSQL")?;
    let query = diesel::dsl::sql::<Bool>("EXISTS (SELECT 1 FROM pg_database WHERE datname = ")
        .bind::<Text, _>(name.to_owned())
        .sql(")");
    let exists: bool = diesel::select(query).get_result(&mut conn).await?;
    if !exists {
        diesel::sql_query(format!("CREATE DATABASE \"{name}\""))
            .execute(&mut conn)
            .await
            .with_context(|| format!("creating the {name} database"))?;
    }
    Ok(())
}
