use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Result;
use diesel::sql_types::BigInt;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use herald_testkit::{PgCluster, Postgres, Template, postgres};

static WIDGETS: Template = Template {
    name: "widgets",
    migrate: |url| Box::pin(create_widgets(url)),
};

async fn create_widgets(url: String) -> Result<()> {
    let mut conn = AsyncPgConnection::establish(&url).await?;
    diesel::sql_query("CREATE TABLE widgets (id serial PRIMARY KEY, name text NOT NULL)")
        .execute(&mut conn)
        .await?;
    Ok(())
}

async fn insert_widget(url: &str) -> Result<()> {
    let mut conn = AsyncPgConnection::establish(url).await?;
    diesel::sql_query("INSERT INTO widgets (name) VALUES ('sprocket')")
        .execute(&mut conn)
        .await?;
    Ok(())
}

async fn count_widgets(url: &str) -> Result<i64> {
    let mut conn = AsyncPgConnection::establish(url).await?;
    let count = diesel::dsl::sql::<BigInt>("(SELECT count(*) FROM widgets)");
    Ok(diesel::select(count).get_result(&mut conn).await?)
}

#[tokio::test]
async fn each_fresh_db_is_a_separate_migrated_database() -> Result<()> {
    let pg = postgres().await?;
    let (a, b) = (pg.fresh_db(&WIDGETS).await?, pg.fresh_db(&WIDGETS).await?);
    assert_ne!(a.name(), b.name());
    insert_widget(a.url()).await?;
    assert_eq!(count_widgets(a.url()).await?, 1);
    assert_eq!(count_widgets(b.url()).await?, 0);
    Ok(())
}

#[tokio::test]
async fn a_dropped_test_db_is_gone_even_with_open_connections() -> Result<()> {
    let pg = postgres().await?;
    let db = pg.fresh_db(&WIDGETS).await?;
    let name = db.name().to_owned();
    let _still_open = AsyncPgConnection::establish(db.url()).await?;
    assert!(pg.database_exists(&name).await?);
    drop(db);
    assert!(!pg.database_exists(&name).await?);
    Ok(())
}

static RACE_MIGRATIONS: AtomicUsize = AtomicUsize::new(0);
static RACE: Template = Template {
    name: "race",
    migrate: |url| {
        RACE_MIGRATIONS.fetch_add(1, Ordering::SeqCst);
        Box::pin(create_widgets(url))
    },
};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_first_uses_migrate_the_template_once() -> Result<()> {
    let pg = postgres().await?;
    let dbs = futures::future::try_join_all((0..8).map(|_| pg.fresh_db(&RACE))).await?;
    assert_eq!(AtomicUsize::load(&RACE_MIGRATIONS, Ordering::SeqCst), 1);
    for db in &dbs {
        assert_eq!(count_widgets(db.url()).await?, 0);
    }
    Ok(())
}

static BROKEN: Template = Template {
    name: "broken",
    migrate: |_| Box::pin(async { anyhow::bail!("migration 0003 failed") }),
};

#[tokio::test]
async fn a_failing_migration_is_reported_with_its_cause() -> Result<()> {
    let pg = postgres().await?;
    let Err(error) = pg.fresh_db(&BROKEN).await else {
        anyhow::bail!("expected an error")
    };
    let message = format!("{error:#}");
    assert!(
        message.contains("`broken` template") && message.contains("migration 0003 failed"),
        "{message}"
    );
    Ok(())
}

#[tokio::test]
async fn a_private_cluster_serves_fresh_dbs_and_vanishes_on_drop() -> Result<()> {
    let pg = Postgres::private().await?;
    let cluster = pg
        .cluster()
        .ok_or_else(|| anyhow::anyhow!("no private cluster"))?;
    let (port, data_dir) = (cluster.port(), cluster.data_dir().to_path_buf());
    let db = pg.fresh_db(&WIDGETS).await?;
    insert_widget(db.url()).await?;
    assert_eq!(count_widgets(db.url()).await?, 1);
    drop(db);
    drop(pg);
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "cluster still running"
    );
    assert!(!data_dir.exists(), "data dir left behind");
    Ok(())
}

#[tokio::test]
async fn a_persistent_cluster_keeps_its_data_across_restarts() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let data_dir = dir.path().join("pg");
    let mut cluster = PgCluster::start_at(data_dir.clone(), 0).await?;
    create_widgets(cluster.url("postgres")).await?;
    insert_widget(&cluster.url("postgres")).await?;
    cluster.stop()?;
    assert!(TcpStream::connect(("127.0.0.1", cluster.port())).is_err());

    let mut cluster = PgCluster::start_at(data_dir, 0).await?;
    assert_eq!(count_widgets(&cluster.url("postgres")).await?, 1);
    let port = cluster.port();
    cluster.restart().await?;
    assert_eq!(cluster.port(), port);
    assert_eq!(count_widgets(&cluster.url("postgres")).await?, 1);
    cluster.stop()?;
    Ok(())
}
