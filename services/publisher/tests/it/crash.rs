//! What only a real process can show: a crash between publishing and marking sent, readiness
//! while NATS is down, and SIGTERM in the middle of publishing.

use crate::{RPC_TIMEOUT, World};
use chrono::Utc;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use herald_contracts::rpc::publisher::{CreatePost, CreatePostRequest};
use herald_kit::rpc::call;
use herald_testkit::{ServiceProcess, check_readiness_follows_nats, wait_for};
use std::path::Path;
use std::time::Duration;

pub(crate) const BINARY: &str = env!("CARGO_BIN_EXE_herald-publisher");

async fn unsent_outbox_rows(db_url: &str) -> anyhow::Result<i64> {
    let mut conn = AsyncPgConnection::establish(db_url).await?;
    Ok(
        diesel::sql_query("SELECT count(*) AS n FROM publisher.kit_outbox WHERE sent_at IS NULL")
            .get_result::<Count>(&mut conn)
            .await?
            .n,
    )
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

async fn wait_ready(service: &ServiceProcess) -> anyhow::Result<()> {
    wait_for("ready", Duration::from_secs(60), || async {
        (service.ops_status("/readyz").await == Some(200)).then_some(())
    })
    .await
    .map_err(|e| anyhow::anyhow!("{e}; log:\n{}", service.log_tail()))
}

#[tokio::test]
async fn a_relay_killed_between_publish_and_mark_sent_delivers_the_message_once()
-> anyhow::Result<()> {
    let world = World::new().await?;
    let mut env = world.env_pairs();
    env.push((
        "HERALD_FAILPOINTS".into(),
        "outbox.after_publish=abort@posts.published".into(),
    ));
    let mut crashing = ServiceProcess::spawn(Path::new(BINARY), &env)?;
    wait_ready(&crashing).await?;
    let account = world.connect_account("token-crash").await?;
    let request = CreatePostRequest {
        text: "crash test".into(),
        scheduled_at: Some(Utc::now()),
        account_ids: vec![account.id],
        media: Vec::new(),
        lateness: None,
    };
    call::<CreatePost>(
        &world.client,
        "t",
        Some(world.caller.clone()),
        request,
        RPC_TIMEOUT,
    )
    .await?;

    let status = crashing.wait(Duration::from_secs(60)).await?;
    assert!(
        !status.success(),
        "the failpoint aborts the process after the PubAck"
    );
    let filter = format!("posts.published.{}.>", world.tenant);
    assert_eq!(
        world.stream_messages(&filter).await?.len(),
        1,
        "published before the crash"
    );
    // The post's event and its target's event commit together; neither is marked sent.
    assert!(
        unsent_outbox_rows(world.db.url()).await? >= 1,
        "but not marked sent"
    );

    env.retain(|(k, _)| k != "HERALD_FAILPOINTS");
    let restarted = ServiceProcess::spawn(Path::new(BINARY), &env)?;
    wait_ready(&restarted).await?;
    wait_for(
        "outbox drained after restart",
        Duration::from_secs(30),
        || async { (unsent_outbox_rows(world.db.url()).await.ok()? == 0).then_some(()) },
    )
    .await?;
    assert_eq!(
        world.stream_messages(&filter).await?.len(),
        1,
        "the re-publish was deduplicated"
    );
    assert_eq!(world.sandbox.ledger().len(), 1);
    Ok(())
}

#[tokio::test]
async fn readiness_follows_nats_and_sigterm_exits_cleanly() -> anyhow::Result<()> {
    let mut world = World::new().await?;
    let env = world.env_pairs();
    check_readiness_follows_nats(Path::new(BINARY), &env, &mut world.nats).await
}

#[tokio::test]
async fn sigterm_while_publishing_loses_and_duplicates_nothing() -> anyhow::Result<()> {
    let world = World::new().await?;
    let env = world.env_pairs();
    let mut first = ServiceProcess::spawn(Path::new(BINARY), &env)?;
    wait_ready(&first).await?;
    let account = world.connect_account("token-term").await?;
    world.sandbox.set_faults(
        herald_sandbox::Platform::Mastodon,
        herald_sandbox::Faults {
            latency_ms: 200,
            ..Default::default()
        },
    )?;
    const POSTS: usize = 20;
    for n in 0..POSTS {
        let request = CreatePostRequest {
            text: format!("post {n}"),
            scheduled_at: Some(Utc::now()),
            account_ids: vec![account.id],
            media: Vec::new(),
            lateness: None,
        };
        call::<CreatePost>(
            &world.client,
            "t",
            Some(world.caller.clone()),
            request,
            RPC_TIMEOUT,
        )
        .await?;
    }
    wait_for("publishing under way", Duration::from_secs(30), || async {
        (!world.sandbox.ledger().is_empty()).then_some(())
    })
    .await?;
    first.signal("TERM")?;
    let status = first.wait(Duration::from_secs(30)).await?;
    assert!(
        status.success(),
        "exit 0 after SIGTERM: {status}; log:\n{}",
        first.log_tail()
    );
    let during = world.sandbox.ledger().len();

    let second = ServiceProcess::spawn(Path::new(BINARY), &env)?;
    wait_ready(&second).await?;
    let ledger = wait_for("every post published", Duration::from_secs(60), || async {
        let ledger = world.sandbox.ledger();
        (ledger.len() >= POSTS).then_some(ledger)
    })
    .await?;
    let mut texts: Vec<_> = ledger.iter().map(|entry| entry.text.clone()).collect();
    texts.sort();
    texts.dedup();
    assert_eq!(
        texts.len(),
        POSTS,
        "each post exactly once (published {during} before SIGTERM)"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(world.sandbox.ledger().len(), POSTS, "no late duplicates");
    Ok(())
}
