//! Row-level security: tracked targets and samples are visible and writable only for their own
//! tenant, and a query on a connection that names no tenant sees nothing.

use crate::support::TEMPLATE;
use chrono::Utc;
use herald_contracts::messages::{Platform, PublishedTarget};
use herald_contracts::{AccountId, PostId, TenantId};
use herald_insights::SCHEMA;
use herald_insights::repo::samples::{self, NewSample};
use herald_insights::repo::tracked;
use herald_kit::db::Db;
use herald_testkit::postgres;
use herald_testkit::rls::{assert_isolated, is_rls_refusal};

fn target() -> PublishedTarget {
    PublishedTarget {
        account_id: AccountId::new(),
        platform: Platform::Mastodon,
        instance_url: "https://mastodon.example".into(),
        remote_id: "1".into(),
        remote_url: None,
        published_at: Utc::now(),
    }
}

#[tokio::test]
async fn tracked_posts_and_samples_are_invisible_without_the_tenant_setting() -> anyhow::Result<()>
{
    let test_db = postgres().await?.fresh_db(&TEMPLATE).await?;
    let db = Db::connect(test_db.url(), SCHEMA, "insights-rls", 2).await?;
    assert_isolated(&db).await?;
    let (a, b) = (TenantId::new(), TenantId::new());
    let post = PostId::new();
    let published = target();
    let sample = NewSample {
        account_id: published.account_id,
        platform: Platform::Mastodon,
        remote_id: "1".into(),
        likes: 1,
        reposts: 2,
        replies: 3,
    };
    let mut conn = db.tenant(a).await?;
    tracked::track(&mut conn, a, post, std::slice::from_ref(&published)).await?;
    samples::insert(
        &mut conn,
        a,
        post,
        1,
        Utc::now(),
        std::slice::from_ref(&sample),
    )
    .await?;
    drop(conn);

    for mut conn in [db.conn().await?, db.tenant(b).await?] {
        assert!(tracked::targets_of(&mut conn, a, post).await?.is_empty());
        assert!(samples::of_post(&mut conn, a, post).await?.is_empty());
        assert_eq!(samples::count(&mut conn, a, post).await?, 0);
    }
    let mut conn = db.tenant(a).await?;
    assert_eq!(tracked::targets_of(&mut conn, a, post).await?.len(), 1);
    assert_eq!(samples::of_post(&mut conn, a, post).await?.len(), 1);

    let refused = tracked::track(&mut conn, b, PostId::new(), &[target()])
        .await
        .expect_err("a tracked post of another tenant must be refused");
    assert!(is_rls_refusal(&refused), "{refused}");
    let refused = samples::insert(&mut conn, b, PostId::new(), 1, Utc::now(), &[sample])
        .await
        .expect_err("a sample of another tenant must be refused");
    assert!(is_rls_refusal(&refused), "{refused}");
    Ok(())
}
