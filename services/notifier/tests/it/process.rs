//! The real `herald-notifier` binary as a child process: readiness following NATS, and SIGTERM
//! in the middle of a burst of published posts losing and duplicating no notification and no
//! email.

use crate::support::{fresh_db, message_id_lines};
use anyhow::{Result, bail};
use chrono::Utc;
use herald_contracts::messages::identity::UserRegistered;
use herald_contracts::messages::{Platform, PostPublished, PublishedTarget};
use herald_contracts::rpc::Role;
use herald_contracts::{AccountId, Envelope, Message, PostId, TenantId, UserId};
use herald_kit::async_nats;
use herald_notifier::repo::{deliveries, notifications, recipients};
use herald_testkit::{NatsServer, check_readiness_follows_nats, check_sigterm_mid_work, wait_for};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const POSTS: usize = 100;

fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_herald-notifier"))
}

fn env(nats: &NatsServer, database_url: &str, mailbox: &Path) -> Vec<(String, String)> {
    [
        ("HERALD_NATS_URL", nats.url()),
        ("HERALD_DATABASE_URL", database_url.to_owned()),
        (
            "HERALD_NOTIFIER_MAILBOX",
            mailbox.to_string_lossy().into_owned(),
        ),
        ("HERALD_NOTIFIER_FROM", "herald@notifier.test".to_owned()),
        ("HERALD_NOTIFIER_MAIL_SWEEP_SECS", "1".to_owned()),
        ("HERALD_LOG", "info".to_owned()),
        ("HERALD_SHUTDOWN_TIMEOUT_SECS", "10".to_owned()),
        ("HERALD_OUTBOX_SWEEP_SECS", "1".to_owned()),
        ("HERALD_DB_POOL_SIZE", "4".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// Publishes `envelope` with `Nats-Msg-Id` = its id, as the outbox relay does.
async fn publish<M: Message>(client: &async_nats::Client, envelope: &Envelope<M>) -> Result<()> {
    let ack = herald_testkit::publish_envelope(client, envelope, &envelope.id).await?;
    if ack.duplicate {
        bail!("{} was taken for a duplicate", envelope.id);
    }
    Ok(())
}

fn published(tenant: TenantId) -> Envelope<PostPublished> {
    Envelope::new(
        tenant,
        "req-burst",
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

fn mailbox_text(mailbox: &PathBuf) -> String {
    std::fs::read_to_string(mailbox).unwrap_or_default()
}

#[tokio::test]
async fn readiness_follows_nats_and_sigterm_exits_cleanly() {
    let mut nats = tokio::task::spawn_blocking(NatsServer::start)
        .await
        .unwrap()
        .unwrap();
    let (test_db, _db) = fresh_db().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let env = env(&nats, test_db.url(), &dir.path().join("mailbox.mbox"));
    check_readiness_follows_nats(binary(), &env, &mut nats)
        .await
        .unwrap();
}

#[tokio::test]
async fn sigterm_mid_work_loses_and_duplicates_nothing() {
    let nats = tokio::task::spawn_blocking(NatsServer::start)
        .await
        .unwrap()
        .unwrap();
    let (test_db, db) = fresh_db().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mailbox = dir.path().join("mail/mailbox.mbox");
    let env = env(&nats, test_db.url(), &mailbox);
    let client = async_nats::connect(nats.url()).await.unwrap();
    let tenant = TenantId::new();
    let posts: Vec<Envelope<PostPublished>> = (0..POSTS).map(|_| published(tenant)).collect();
    let seen_at_stop = Arc::new(Mutex::new(0i64));
    let last_seen = Arc::new(Mutex::new(String::new()));

    let submit = || async {
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
        publish(&client, &registered).await?;
        // Every post must find its recipient, or it would rightly send no email.
        wait_for("the recipient", Duration::from_secs(30), || async {
            let mut conn = db.tenant(tenant).await.ok()?;
            let found = recipients::of_tenant(&mut conn, tenant).await.ok()?;
            (found.len() == 1).then_some(())
        })
        .await?;
        for post in &posts {
            publish(&client, post).await?;
        }
        Ok(())
    };
    let started = || async {
        let mut conn = db.tenant(tenant).await.ok()?;
        let made = notifications::count(&mut conn, tenant).await.ok()?;
        *seen_at_stop.lock().unwrap() = made;
        (made > 0).then_some(())
    };
    // Done once every post has its notification and every email is in the mailbox; the
    // exact counts are asserted below, so a duplicate fails with the numbers.
    let finished = || async {
        let mut conn = db.tenant(tenant).await.ok()?;
        let made = notifications::count(&mut conn, tenant).await.ok()?;
        let sent = deliveries::count(&mut conn, tenant, deliveries::SENT)
            .await
            .ok()?;
        let mailed = message_id_lines(&mailbox_text(&mailbox)).len();
        *last_seen.lock().unwrap() =
            format!("{made} notifications, {sent} emails sent, {mailed} in the mailbox");
        (made >= POSTS as i64 && sent >= POSTS as i64 && mailed >= POSTS).then_some(())
    };
    if let Err(error) = check_sigterm_mid_work(binary(), &env, submit, started, finished).await {
        panic!("{error}\nlast seen: {}", last_seen.lock().unwrap());
    }

    let assert_exact = async || {
        let mut conn = db.tenant(tenant).await.unwrap();
        assert_eq!(
            notifications::count(&mut conn, tenant).await.unwrap(),
            POSTS as i64
        );
        assert_eq!(
            deliveries::count(&mut conn, tenant, deliveries::SENT)
                .await
                .unwrap(),
            POSTS as i64
        );
        assert_eq!(
            deliveries::count(&mut conn, tenant, deliveries::PENDING)
                .await
                .unwrap(),
            0
        );
        let text = mailbox_text(&mailbox);
        let lines = message_id_lines(&text);
        assert_eq!(lines.len(), POSTS, "Message-ID lines in the mailbox");
        let distinct: HashSet<&String> = lines.iter().collect();
        assert_eq!(distinct.len(), POSTS, "distinct Message-IDs in the mailbox");
        for post in &posts {
            assert_eq!(
                text.matches(&post.data.post_id.to_string()).count(),
                1,
                "emails naming post {}",
                post.data.post_id
            );
        }
    };
    assert_exact().await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_exact().await;
    eprintln!(
        "notifier: {} of {POSTS} notifications existed when SIGTERM was sent",
        seen_at_stop.lock().unwrap()
    );
}
