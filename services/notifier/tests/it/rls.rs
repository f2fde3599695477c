//! Row-level security: recipients, notifications and queued emails are visible and writable
//! only for their own tenant; a query on a connection that names no tenant sees nothing, and
//! only the delivery worker's system scope sees every tenant's queue.

use crate::support::fresh_db;
use herald_contracts::rpc::Role;
use herald_contracts::{TenantId, UserId};
use herald_notifier::repo::deliveries::{self, NewDelivery};
use herald_notifier::repo::notifications::{self, NewNotification};
use herald_notifier::repo::recipients;
use herald_testkit::rls::{assert_isolated, is_rls_refusal};

fn notification(source: &str) -> NewNotification<'_> {
    NewNotification {
        kind: "post.published",
        title: "Post published",
        body: "body",
        source_message_id: source,
    }
}

#[tokio::test]
async fn notifications_are_invisible_without_the_tenant_setting() -> anyhow::Result<()> {
    let (_test_db, db) = fresh_db().await?;
    assert_isolated(&db).await?;
    let (a, b) = (TenantId::new(), TenantId::new());
    let mut conn = db.tenant(a).await?;
    recipients::upsert(&mut conn, a, UserId::new(), "a@example.com", Role::Owner).await?;
    let id = notifications::insert(&mut conn, a, &notification("m-1"))
        .await?
        .expect("a new notification");
    let email = NewDelivery {
        message_id: "<m-1@example.com>".into(),
        to_address: "a@example.com".into(),
        subject: "Post published".into(),
        body: "body".into(),
    };
    deliveries::insert(&mut conn, a, id, std::slice::from_ref(&email)).await?;
    drop(conn);

    for mut conn in [db.conn().await?, db.tenant(b).await?] {
        assert!(recipients::of_tenant(&mut conn, a).await?.is_empty());
        assert!(notifications::list(&mut conn, a, 10).await?.is_empty());
        assert_eq!(notifications::count(&mut conn, a).await?, 0);
        assert_eq!(
            deliveries::count(&mut conn, a, deliveries::PENDING).await?,
            0
        );
        assert!(deliveries::claim_pending(&mut conn, 10).await?.is_empty());
    }
    let mut conn = db.tenant(a).await?;
    assert_eq!(recipients::of_tenant(&mut conn, a).await?.len(), 1);
    assert_eq!(notifications::list(&mut conn, a, 10).await?.len(), 1);
    assert_eq!(
        deliveries::count(&mut conn, a, deliveries::PENDING).await?,
        1
    );
    drop(conn);
    let mut conn = db.system("test: the delivery worker's view").await?;
    assert_eq!(deliveries::claim_pending(&mut conn, 10).await?.len(), 1);
    drop(conn);

    let mut conn = db.tenant(a).await?;
    let refused = recipients::upsert(&mut conn, b, UserId::new(), "b@example.com", Role::Owner)
        .await
        .expect_err("a recipient of another tenant must be refused");
    assert!(is_rls_refusal(&refused), "{refused}");
    let refused = notifications::insert(&mut conn, b, &notification("m-2"))
        .await
        .expect_err("a notification of another tenant must be refused");
    assert!(is_rls_refusal(&refused), "{refused}");
    Ok(())
}
