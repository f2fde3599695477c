//! The delivery worker's crash safety: an email appended by a round that died before marking
//! it sent is reconciled by its Message-ID, never appended twice.

use crate::support::{fresh_db, message_id_lines};
use anyhow::Result;
use herald_contracts::{TenantId, UserId};
use herald_notifier::mail::{MailWaker, Mailer, mbox};
use herald_notifier::repo::deliveries::{self, NewDelivery};
use herald_notifier::repo::notifications::{self, NewNotification};
use std::time::Duration;

#[tokio::test]
async fn an_email_already_in_the_mailbox_is_marked_sent_without_a_second_copy() -> Result<()> {
    let (_test_db, db) = fresh_db().await?;
    let dir = tempfile::tempdir()?;
    let mailbox = dir.path().join("mailbox.mbox");
    let tenant = TenantId::new();
    let mut conn = db.tenant(tenant).await?;
    let notification = notifications::insert(
        &mut conn,
        tenant,
        &NewNotification {
            kind: "post.published",
            title: "Post published",
            body: "body",
            source_message_id: "post.published:test",
        },
    )
    .await?
    .unwrap();
    let queued: Vec<NewDelivery> = ["first@example.com", "second@example.com"]
        .into_iter()
        .map(|to| NewDelivery {
            message_id: mbox::message_id_for("post.published:test", UserId::new(), "localhost"),
            to_address: to.into(),
            subject: "Post published".into(),
            body: "Your post was published.".into(),
        })
        .collect();
    deliveries::insert(&mut conn, tenant, notification, &queued).await?;

    // A previous round appended the first email, then died before its commit.
    let first = &queued[0];
    let appended = mbox::append_missing(
        &mailbox,
        &[mbox::Email {
            message_id: first.message_id.clone(),
            from: "herald@localhost".into(),
            to: first.to_address.clone(),
            subject: first.subject.clone(),
            body: first.body.clone(),
            date: chrono::Utc::now(),
        }],
    )?;
    assert_eq!(appended.appended, 1);

    let mailer = Mailer {
        db: db.clone(),
        mailbox: mailbox.clone(),
        from: "herald@localhost".into(),
        waker: MailWaker::default(),
        sweep: Duration::from_secs(5),
    };
    assert_eq!(mailer.deliver_pending().await?, 2);
    assert_eq!(
        deliveries::count(&mut conn, tenant, deliveries::SENT).await?,
        2
    );
    assert_eq!(
        deliveries::count(&mut conn, tenant, deliveries::PENDING).await?,
        0
    );
    let text = std::fs::read_to_string(&mailbox)?;
    let ids = message_id_lines(&text);
    assert_eq!(ids.len(), 2, "{text}");
    assert_eq!(text.matches(&format!("<{}>", first.message_id)).count(), 1);
    assert_eq!(
        text.matches(&format!("<{}>", queued[1].message_id)).count(),
        1
    );

    // Nothing left: another round changes nothing.
    assert_eq!(mailer.deliver_pending().await?, 0);
    assert_eq!(
        message_id_lines(&std::fs::read_to_string(&mailbox)?).len(),
        2
    );
    Ok(())
}
