//! Row-level security: render jobs are visible and writable only for their own tenant, a query
//! on a connection that names no tenant sees nothing, and only the asset look-up's system
//! scope finds a render by content hash across tenants.

use crate::TEMPLATE;
use herald_contracts::{RenderId, TenantId};
use herald_kit::db::Db;
use herald_renderer::SCHEMA;
use herald_renderer::repo::{self, NewRender};
use herald_testkit::postgres;
use herald_testkit::rls::{assert_isolated, is_rls_refusal};

fn new_render(id: RenderId) -> NewRender<'static> {
    NewRender {
        id,
        design: serde_json::json!({}),
        design_hash: "d",
        width: 10,
        height: 10,
    }
}

#[tokio::test]
async fn renders_are_invisible_without_the_tenant_setting() -> anyhow::Result<()> {
    let test_db = postgres().await?.fresh_db(&TEMPLATE).await?;
    let db = Db::connect(test_db.url(), SCHEMA, "renderer-rls", 2).await?;
    assert_isolated(&db).await?;
    let (a, b) = (TenantId::new(), TenantId::new());
    let id = RenderId::new();
    let hash = "ab".repeat(32);
    let mut conn = db.tenant(a).await?;
    repo::insert(&mut conn, a, new_render(id)).await?;
    assert!(repo::complete(&mut conn, a, id, "renders/d.png", &hash, 3).await?);
    drop(conn);

    for mut conn in [db.conn().await?, db.tenant(b).await?] {
        assert!(repo::find(&mut conn, a, id).await?.is_none());
        assert!(repo::object_by_hash(&mut conn, &hash).await?.is_none());
        assert!(!repo::fail(&mut conn, a, id, "no").await?);
    }
    let mut conn = db.tenant(a).await?;
    assert_eq!(
        repo::find(&mut conn, a, id)
            .await?
            .map(|r| r.status)
            .as_deref(),
        Some("completed")
    );
    drop(conn);
    let mut conn = db.system("test: the asset look-up's view").await?;
    assert_eq!(
        repo::object_by_hash(&mut conn, &hash).await?.as_deref(),
        Some("renders/d.png")
    );
    drop(conn);

    let mut conn = db.tenant(a).await?;
    let refused = repo::insert(&mut conn, b, new_render(RenderId::new()))
        .await
        .expect_err("a render of another tenant must be refused");
    assert!(is_rls_refusal(&refused), "{refused}");
    Ok(())
}
