//! post.target.failed → one notification and one email per recipient, worded for a person
//! when the outcome needs their attention; a redelivered event adds nothing.

use crate::support::{eventually, message_id_lines, spawn_notifier};
use anyhow::Result;
use herald_contracts::messages::identity::UserRegistered;
use herald_contracts::messages::{Platform, PostTargetFailed};
use herald_contracts::rpc::Role;
use herald_contracts::{AccountId, Envelope, PostId, TenantId, UserId};
use herald_notifier::repo::{deliveries, notifications, recipients};

fn failed(tenant: TenantId, needs_attention: bool) -> Envelope<PostTargetFailed> {
    Envelope::new(
        tenant,
        "req-test",
        None,
        PostTargetFailed {
            post_id: PostId::new(),
            account_id: AccountId::new(),
            platform: Platform::Linkedin,
            reason: "the lookup of recent posts is not permitted".into(),
            needs_attention,
            attempts: 2,
        },
    )
}

#[tokio::test]
async fn each_failed_target_notifies_once_and_asks_for_attention_when_unverifiable() -> Result<()> {
    let notifier = spawn_notifier().await?;
    let tenant = TenantId::new();
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

    let attention = failed(tenant, true);
    let plain = failed(tenant, false);
    notifier.publish(&attention, &attention.id).await?;
    notifier.publish(&plain, &plain.id).await?;
    // Redelivered after the duplicate window: the inbox makes it a no-op.
    notifier
        .publish(&attention, &format!("{}:again", attention.id))
        .await?;
    eventually("both emails sent", || async {
        let mut conn = notifier.db.tenant(tenant).await?;
        Ok(deliveries::count(&mut conn, tenant, deliveries::SENT).await? == 2)
    })
    .await?;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let mut conn = notifier.db.tenant(tenant).await?;
    assert_eq!(notifications::count(&mut conn, tenant).await?, 2);
    let mailbox = notifier.mailbox_text();
    assert_eq!(message_id_lines(&mailbox).len(), 2, "{mailbox}");
    assert!(mailbox.contains("\nSubject: Post needs your attention\n"));
    assert!(mailbox.contains("\nSubject: Post not published\n"));
    assert!(mailbox.contains("publish it by hand if it is missing"));
    assert!(mailbox.contains(&attention.data.post_id.to_string()));
    Ok(())
}
