//! post.published → one in-app notification and exactly one email per recipient, even when
//! the same event is published again; the inbox endpoint is per tenant.

use crate::support::{eventually, identity, message_id_lines, spawn_notifier};
use anyhow::Result;
use chrono::Utc;
use herald_contracts::messages::identity::UserRegistered;
use herald_contracts::messages::{Platform, PostPublished, PublishedTarget};
use herald_contracts::rpc::notifier::{ListNotifications, ListNotificationsRequest};
use herald_contracts::rpc::{ErrorCode, Role};
use herald_contracts::streams::POSTS;
use herald_contracts::{AccountId, Envelope, PostId, TenantId, UserId};
use herald_kit::rpc::call;
use herald_notifier::repo::{deliveries, notifications, recipients};
use std::time::Duration;

fn published(tenant: TenantId) -> Envelope<PostPublished> {
    Envelope::new(
        tenant,
        "req-test",
        None,
        PostPublished {
            post_id: PostId::new(),
            targets: vec![PublishedTarget {
                account_id: AccountId::new(),
                platform: Platform::Mastodon,
                instance_url: "https://mastodon.example".into(),
                remote_id: "1234".into(),
                remote_url: Some("https://mastodon.example/@herald/1234".into()),
                published_at: Utc::now(),
            }],
            partial: false,
        },
    )
}

#[tokio::test]
async fn a_published_post_notifies_once_and_emails_once() -> Result<()> {
    let notifier = spawn_notifier().await?;
    let tenant = TenantId::new();
    let other_tenant = TenantId::new();

    let registered = Envelope::new(
        tenant,
        "req-register",
        None,
        UserRegistered {
            user_id: UserId::new(),
            email: "owner@example.com".into(),
            role: Role::Owner,
        },
    );
    notifier.publish(&registered, &registered.id).await?;
    eventually("the recipient", || async {
        let mut conn = notifier.db.tenant(tenant).await?;
        Ok(recipients::of_tenant(&mut conn, tenant).await?.len() == 1)
    })
    .await?;

    let post = published(tenant);
    notifier.publish(&post, &post.id).await?;
    eventually("the email to be sent", || async {
        let mut conn = notifier.db.tenant(tenant).await?;
        Ok(deliveries::count(&mut conn, tenant, deliveries::SENT).await? == 1)
    })
    .await?;
    let mut conn = notifier.db.tenant(tenant).await?;
    assert_eq!(notifications::count(&mut conn, tenant).await?, 1);
    let mailbox = notifier.mailbox_text();
    assert_eq!(message_id_lines(&mailbox).len(), 1, "{mailbox}");
    assert!(mailbox.starts_with("From herald@notifier.test "));
    assert!(mailbox.contains("\nTo: owner@example.com\n"));
    assert!(mailbox.contains("\nFrom: herald@notifier.test\n"));
    assert!(mailbox.contains("\nSubject: Post published\n"));
    assert!(mailbox.contains(&post.data.post_id.to_string()));

    // The same event again, as a re-publish after the duplicate window would arrive.
    let sequence = notifier
        .publish(&post, &format!("{}:republished", post.id))
        .await?;
    notifier
        .wait_consumed(POSTS, "notifier-post-published", sequence)
        .await?;
    assert_eq!(notifications::count(&mut conn, tenant).await?, 1);
    assert_eq!(
        deliveries::count(&mut conn, tenant, deliveries::PENDING).await?,
        0
    );
    assert_eq!(
        deliveries::count(&mut conn, tenant, deliveries::SENT).await?,
        1
    );
    assert_eq!(message_id_lines(&notifier.mailbox_text()).len(), 1);

    let timeout = Duration::from_secs(5);
    let mine = call::<ListNotifications>(
        &notifier.client,
        "req-list",
        Some(identity(tenant)),
        ListNotificationsRequest { limit: None },
        timeout,
    )
    .await?;
    assert_eq!(mine.items.len(), 1);
    assert_eq!(mine.items[0].kind, "post.published");
    assert!(mine.items[0].body.contains(&post.data.post_id.to_string()));

    let theirs = call::<ListNotifications>(
        &notifier.client,
        "req-list-other",
        Some(identity(other_tenant)),
        ListNotificationsRequest { limit: Some(200) },
        timeout,
    )
    .await?;
    assert!(theirs.items.is_empty());
    drop(conn);

    let too_many = call::<ListNotifications>(
        &notifier.client,
        "req-list-limit",
        Some(identity(tenant)),
        ListNotificationsRequest { limit: Some(201) },
        timeout,
    )
    .await
    .unwrap_err();
    assert_eq!(too_many.code, ErrorCode::InvalidInput);

    notifier.stop().await
}

#[tokio::test]
async fn every_recipient_of_the_tenant_gets_one_email_and_no_one_else() -> Result<()> {
    let notifier = spawn_notifier().await?;
    let tenant = TenantId::new();
    let stranger = TenantId::new();
    for (tenant, email) in [
        (tenant, "owner@example.com"),
        (tenant, "editor@example.com"),
        (stranger, "stranger@example.com"),
    ] {
        let registered = Envelope::new(
            tenant,
            "req-register",
            None,
            UserRegistered {
                user_id: UserId::new(),
                email: email.into(),
                role: Role::Editor,
            },
        );
        notifier.publish(&registered, &registered.id).await?;
    }
    eventually("the recipients", || async {
        // Both tenants' recipients at once: a test's look across tenants.
        let mut conn = notifier.db.system("test: both tenants' recipients").await?;
        Ok(recipients::of_tenant(&mut conn, tenant).await?.len() == 2
            && recipients::of_tenant(&mut conn, stranger).await?.len() == 1)
    })
    .await?;

    let post = published(tenant);
    notifier.publish(&post, &post.id).await?;
    eventually("both emails to be sent", || async {
        let mut conn = notifier.db.tenant(tenant).await?;
        Ok(deliveries::count(&mut conn, tenant, deliveries::SENT).await? == 2)
    })
    .await?;
    let mailbox = notifier.mailbox_text();
    let ids = message_id_lines(&mailbox);
    assert_eq!(ids.len(), 2);
    assert_ne!(ids[0], ids[1]);
    assert!(mailbox.contains("\nTo: owner@example.com\n"));
    assert!(mailbox.contains("\nTo: editor@example.com\n"));
    assert!(!mailbox.contains("stranger@example.com"));
    notifier.stop().await
}
