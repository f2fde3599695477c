//! Row-level security: usage rows are visible and writable only for their own tenant, and a
//! query on a connection that names no tenant sees nothing.

use crate::TEMPLATE;
use chrono::Utc;
use herald_billing::repo;
use herald_contracts::TenantId;
use herald_kit::db::Db;
use herald_testkit::postgres;
use herald_testkit::rls::{assert_isolated, is_rls_refusal};

#[tokio::test]
async fn usage_is_invisible_without_the_tenant_setting() -> anyhow::Result<()> {
    let test_db = postgres().await?.fresh_db(&TEMPLATE).await?;
    let db = Db::connect(test_db.url(), herald_billing::SCHEMA, "billing-rls", 2).await?;
    assert_isolated(&db).await?;
    let (a, b) = (TenantId::new(), TenantId::new());
    let mut conn = db.tenant(a).await?;
    repo::record_usage(&mut conn, a, "published_targets", 3, "m-1", Utc::now()).await?;
    drop(conn);

    let mut conn = db.conn().await?;
    assert!(repo::usage_totals(&mut conn, a).await?.is_empty());
    drop(conn);
    let mut conn = db.tenant(b).await?;
    assert!(repo::usage_totals(&mut conn, a).await?.is_empty());
    drop(conn);
    let mut conn = db.tenant(a).await?;
    let totals = repo::usage_totals(&mut conn, a).await?;
    assert_eq!(totals.len(), 1);
    assert_eq!(totals[0].quantity, 3);

    let refused = repo::record_usage(&mut conn, b, "published_targets", 1, "m-2", Utc::now())
        .await
        .expect_err("a row of another tenant must be refused");
    assert!(is_rls_refusal(&refused), "{refused}");
    Ok(())
}
