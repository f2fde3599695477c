//! The kit's integration tests against a real Postgres: tenant isolation mechanics (the
//! service role, scoped checkouts, group commit acting for each unit's tenant, the start-up
//! checks). Each service's RLS test covers its own tables on top of these.

// A failed unwrap is a failed test, with the value in the message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod nats_auth;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Uuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use futures::future::{BoxFuture, join_all};
use herald_contracts::TenantId;
use herald_kit::db::{self, Db};
use herald_kit::group::{GroupCommit, GroupConfig, Work};
use herald_testkit::rls::{assert_isolated, is_rls_refusal};
use herald_testkit::{Template, TestDb, postgres};

const NOTES: EmbeddedMigrations = embed_migrations!("tests/it/migrations");
const SCHEMA: &str = "kit_rls";

static TEMPLATE: Template = Template {
    name: "kit_rls",
    migrate: |url| {
        Box::pin(async move {
            db::migrate(&url, SCHEMA, NOTES).await?;
            Ok(())
        })
    },
};

/// A fresh database, and a pool of one connection, so every checkout reuses the connection
/// the previous one left behind.
async fn fresh() -> anyhow::Result<(TestDb, Db)> {
    let test_db = postgres().await?.fresh_db(&TEMPLATE).await?;
    let db = Db::connect(test_db.url(), SCHEMA, "kit-rls", 1).await?;
    Ok((test_db, db))
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn visible(conn: &mut AsyncPgConnection) -> QueryResult<i64> {
    Ok(diesel::sql_query("SELECT count(*) AS n FROM notes")
        .get_result::<Count>(conn)
        .await?
        .n)
}

async fn add(conn: &mut AsyncPgConnection, tenant: TenantId) -> QueryResult<usize> {
    diesel::sql_query("INSERT INTO notes (tenant_id, body) VALUES ($1, 'x')")
        .bind::<Uuid, _>(tenant.as_uuid())
        .execute(conn)
        .await
}

#[tokio::test]
async fn a_checkout_sees_only_its_scope_and_nothing_survives_into_the_next() -> anyhow::Result<()> {
    let (_test_db, db) = fresh().await?;
    assert_isolated(&db).await?;
    let (a, b) = (TenantId::new(), TenantId::new());
    add(&mut *db.tenant(a).await?, a).await?;
    add(&mut *db.tenant(a).await?, a).await?;
    add(&mut *db.tenant(b).await?, b).await?;

    #[derive(QueryableByName)]
    struct Who {
        #[diesel(sql_type = Text)]
        name: String,
    }
    let who: Who = diesel::sql_query("SELECT current_user::text AS name")
        .get_result(&mut *db.conn().await?)
        .await?;
    assert_eq!(who.name, db::DEFAULT_SERVICE_ROLE);

    assert_eq!(visible(&mut *db.tenant(a).await?).await?, 2);
    assert_eq!(visible(&mut *db.tenant(b).await?).await?, 1);
    assert_eq!(visible(&mut *db.system("test").await?).await?, 3);
    // The same pooled connection, just used for tenant A and then for the system: a plain
    // checkout resets both settings.
    assert_eq!(visible(&mut *db.conn().await?).await?, 0);

    let refused = add(&mut *db.tenant(a).await?, b).await.unwrap_err();
    assert!(is_rls_refusal(&refused), "{refused}");
    let refused = add(&mut *db.conn().await?, a).await.unwrap_err();
    assert!(is_rls_refusal(&refused), "{refused}");
    // Updates and deletes cannot reach another tenant's rows either.
    let mut conn = db.tenant(a).await?;
    let touched = diesel::sql_query("UPDATE notes SET body = 'y' WHERE tenant_id = $1")
        .bind::<Uuid, _>(b.as_uuid())
        .execute(&mut conn)
        .await?;
    assert_eq!(touched, 0);
    let moved = diesel::sql_query("UPDATE notes SET tenant_id = $1")
        .bind::<Uuid, _>(b.as_uuid())
        .execute(&mut conn)
        .await
        .unwrap_err();
    assert!(is_rls_refusal(&moved), "{moved}");
    Ok(())
}

/// Inserts a note for `writes` while acting for `item.0`; answers how many notes it sees.
struct AddNote;

impl Work for AddNote {
    type Item = (TenantId, TenantId);
    type Output = i64;
    type Error = diesel::result::Error;

    fn tenant(&self, item: &Self::Item) -> TenantId {
        item.0
    }

    fn run<'a>(
        &'a self,
        conn: &'a mut AsyncPgConnection,
        item: &'a Self::Item,
    ) -> BoxFuture<'a, Result<i64, diesel::result::Error>> {
        Box::pin(async move {
            add(conn, item.1).await?;
            visible(conn).await
        })
    }

    fn group_failed(&self, reason: String) -> diesel::result::Error {
        diesel::result::Error::QueryBuilderError(reason.into())
    }
}

#[tokio::test]
async fn group_commit_runs_each_unit_for_its_own_tenant() -> anyhow::Result<()> {
    let (_test_db, db) = fresh().await?;
    let (a, b) = (TenantId::new(), TenantId::new());
    add(&mut *db.tenant(a).await?, a).await?;
    // One worker and groups of up to 16: units submitted at once share transactions.
    let group = GroupCommit::start(
        db.clone(),
        AddNote,
        GroupConfig {
            max: 16,
            workers: 1,
        },
    );
    let units = [(a, a), (b, b), (a, a), (b, b), (a, b)];
    let results = join_all(units.iter().map(|unit| group.submit(*unit))).await;
    // Each unit sees its own tenant's notes only; the one writing another tenant's note is
    // refused alone, and the others commit.
    for (unit, result) in units.iter().zip(&results) {
        match result {
            Ok(seen) => {
                assert_eq!(unit.0, unit.1);
                let mut conn = db.tenant(unit.0).await?;
                assert!(*seen >= 1 && *seen <= visible(&mut conn).await?);
            }
            Err(error) => {
                assert_ne!(unit.0, unit.1, "{error}");
                assert!(is_rls_refusal(error), "{error}");
            }
        }
    }
    assert_eq!(visible(&mut *db.tenant(a).await?).await?, 3);
    assert_eq!(visible(&mut *db.tenant(b).await?).await?, 2);
    assert_eq!(visible(&mut *db.conn().await?).await?, 0);
    Ok(())
}

#[tokio::test]
async fn migrations_refuse_a_service_role_that_bypasses_row_level_security() -> anyhow::Result<()> {
    let (test_db, db) = fresh().await?;
    let mut admin = AsyncPgConnection::establish(test_db.url()).await?;
    admin
        .batch_execute(
            "DO $$ BEGIN CREATE ROLE herald_test_bypass NOLOGIN BYPASSRLS; \
             EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$",
        )
        .await?;
    let error = db::migrate_as(test_db.url(), SCHEMA, "herald_test_bypass", NOTES)
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("bypasses row-level security"),
        "{error}"
    );

    // A tenant-owned table without a policy is reported.
    admin
        .batch_execute(&format!(
            "CREATE TABLE {SCHEMA}.leaky (tenant_id UUID NOT NULL)"
        ))
        .await?;
    let mut conn = db.conn().await?;
    assert_eq!(db::unisolated_tables(&mut conn, SCHEMA).await?, ["leaky"]);
    Ok(())
}
