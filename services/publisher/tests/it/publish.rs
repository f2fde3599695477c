//! Scheduling and publishing through the real schedule mechanism.

use crate::{RPC_TIMEOUT, World, read_stream};
use chrono::Utc;
use herald_contracts::messages::PostPublished;
use herald_contracts::rpc::publisher::{
    CreatePost, CreatePostRequest, GetPost, GetPostRequest, PostStatus, PostView, TargetState,
};
use herald_contracts::{Envelope, PostId};
use herald_kit::rpc::call;
use herald_testkit::{Running, wait_for};
use std::time::Duration;

pub(crate) async fn schedule(
    world: &World,
    text: &str,
    in_secs: i64,
    accounts: Vec<herald_contracts::AccountId>,
) -> anyhow::Result<PostView> {
    let request = CreatePostRequest {
        text: text.into(),
        scheduled_at: Some(Utc::now() + chrono::Duration::seconds(in_secs)),
        account_ids: accounts,
        media: Vec::new(),
        lateness: None,
    };
    Ok(call::<CreatePost>(
        &world.client,
        "test-create",
        Some(world.caller.clone()),
        request,
        RPC_TIMEOUT,
    )
    .await?)
}

pub(crate) async fn post_state(world: &World, post: PostId) -> Option<PostView> {
    call::<GetPost>(
        &world.client,
        "test-get",
        Some(world.caller.clone()),
        GetPostRequest { post_id: post },
        RPC_TIMEOUT,
    )
    .await
    .ok()
}

#[tokio::test]
async fn a_scheduled_post_is_published_once_at_its_time() -> anyhow::Result<()> {
    let world = World::new().await?;
    let service = Running::spawn(herald_publisher::start(world.env()).await?);
    let account = world.connect_account("token-a").await?;
    let trace = herald_kit::TraceContext::root();
    let post = trace
        .clone()
        .scope(schedule(&world, "hello from herald", 2, vec![account.id]))
        .await?;
    assert_eq!(post.status, PostStatus::Scheduled);
    assert!(
        world.sandbox.ledger().is_empty(),
        "nothing may be posted before its time"
    );

    let done = wait_for("post published", Duration::from_secs(30), || async {
        post_state(&world, post.id)
            .await
            .filter(|p| p.status == PostStatus::Published)
    })
    .await?;
    let ledger = world.sandbox.ledger();
    assert_eq!(ledger.len(), 1, "exactly one post reaches the platform");
    assert_eq!(ledger[0].text, "hello from herald");
    assert_eq!(
        ledger[0].idempotency_key.as_deref(),
        Some(format!("herald-{}-{}", post.id, account.id).as_str())
    );
    assert_eq!(done.targets[0].state, TargetState::Done);
    assert_eq!(
        done.targets[0].remote_id.as_deref(),
        Some(ledger[0].status_id.to_string().as_str())
    );
    assert!(
        done.published_at
            .is_some_and(|at| Some(at) >= post.scheduled_at)
    );

    let published = wait_for(
        "post.published on the stream",
        Duration::from_secs(10),
        || async {
            let messages = world
                .stream_messages(&format!("posts.published.{}.>", world.tenant))
                .await
                .ok()?;
            (!messages.is_empty()).then_some(messages)
        },
    )
    .await?;
    assert_eq!(published.len(), 1);
    let envelope: Envelope<PostPublished> = serde_json::from_slice(&published[0].payload)?;
    assert_eq!(envelope.data.post_id, post.id);
    assert_eq!(
        envelope.data.targets[0].remote_id,
        ledger[0].status_id.to_string()
    );
    let headers = published[0]
        .headers
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("no headers"))?;
    assert_eq!(
        headers.get("Nats-Msg-Id").map(|v| v.as_str()),
        Some(envelope.id.as_str())
    );
    let traceparent = headers
        .get("traceparent")
        .map(|v| v.to_string())
        .unwrap_or_default();
    let carried = herald_kit::TraceContext::parse(&traceparent, None).map(|t| t.trace_id);
    assert_eq!(
        carried,
        Some(trace.trace_id.clone()),
        "one trace from the request through the schedule to post.published"
    );
    service.stop().await
}

#[tokio::test]
async fn an_outcome_lost_after_commit_is_reconciled_not_duplicated() -> anyhow::Result<()> {
    let world = World::new().await?;
    let service = Running::spawn(herald_publisher::start(world.env()).await?);
    let account = world.connect_account("token-b").await?;
    world.sandbox.set_faults(
        herald_sandbox::Platform::Mastodon,
        herald_sandbox::Faults {
            drop_after_commit_rate: 1.0,
            ..Default::default()
        },
    )?;
    let post = schedule(&world, "dropped after commit", 0, vec![account.id]).await?;
    wait_for(
        "target outcome unknown",
        Duration::from_secs(30),
        || async {
            post_state(&world, post.id)
                .await
                .filter(|p| p.targets[0].state == TargetState::Unknown)
        },
    )
    .await?;
    assert_eq!(
        world.sandbox.ledger().len(),
        1,
        "the platform committed the post"
    );
    world.sandbox.set_faults(
        herald_sandbox::Platform::Mastodon,
        herald_sandbox::Faults::default(),
    )?;
    let done = wait_for(
        "post published after reconciliation",
        Duration::from_secs(30),
        || async {
            post_state(&world, post.id)
                .await
                .filter(|p| p.status == PostStatus::Published)
        },
    )
    .await?;
    let ledger = world.sandbox.ledger();
    assert_eq!(
        ledger.len(),
        1,
        "reconciliation found the post instead of posting again"
    );
    assert_eq!(
        done.targets[0].remote_id.as_deref(),
        Some(ledger[0].status_id.to_string().as_str())
    );
    assert!(done.targets[0].attempts >= 2);
    service.stop().await
}

#[tokio::test]
async fn an_invalid_due_message_is_dead_lettered_and_the_consumer_keeps_going() -> anyhow::Result<()>
{
    let world = World::new().await?;
    let service = Running::spawn(herald_publisher::start(world.env()).await?);
    let js = herald_kit::async_nats::jetstream::new(world.client.clone());
    let subject = format!("posts.due.{}.{}", world.tenant, PostId::new());
    js.publish(
        subject.clone(),
        r#"{"id":"x","type":"post.due","data":{"post_id":42}}"#.into(),
    )
    .await?
    .await?;

    let dead = wait_for("dead letter", Duration::from_secs(20), || async {
        let messages = read_stream(&world.client, "DLQ", "dlq.POSTS.publisher-due")
            .await
            .ok()?;
        messages.into_iter().next()
    })
    .await?;
    let headers = dead
        .headers
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("no headers"))?;
    let reason = headers
        .get("Herald-Dlq-Reason")
        .map(|v| v.to_string())
        .unwrap_or_default();
    assert!(reason.contains("schema violation"), "reason: {reason}");
    assert_eq!(
        headers.get("Herald-Dlq-Subject").map(|v| v.to_string()),
        Some(subject)
    );
    assert!(
        String::from_utf8_lossy(&dead.payload).contains("\"post_id\":42"),
        "the original payload is kept"
    );

    let account = world.connect_account("token-c").await?;
    let post = schedule(&world, "after the bad one", 0, vec![account.id]).await?;
    wait_for("next post published", Duration::from_secs(30), || async {
        post_state(&world, post.id)
            .await
            .filter(|p| p.status == PostStatus::Published)
    })
    .await?;
    service.stop().await
}

#[tokio::test]
async fn bad_input_is_refused_with_a_clear_error_and_other_tenants_see_nothing()
-> anyhow::Result<()> {
    let world = World::new().await?;
    let service = Running::spawn(herald_publisher::start(world.env()).await?);
    let account = world.connect_account("token-d").await?;
    let empty = schedule(&world, "   ", 5, vec![account.id])
        .await
        .unwrap_err();
    assert!(empty.to_string().contains("text"), "{empty}");
    let post = schedule(&world, "mine", 3600, vec![account.id]).await?;

    let stranger = herald_testkit::identity(
        herald_contracts::TenantId::new(),
        herald_contracts::rpc::Role::Owner,
    );
    let other = call::<GetPost>(
        &world.client,
        "t",
        Some(stranger.clone()),
        GetPostRequest { post_id: post.id },
        RPC_TIMEOUT,
    )
    .await
    .unwrap_err();
    assert_eq!(other.code, herald_contracts::rpc::ErrorCode::NotFound);
    let request = CreatePostRequest {
        text: "x".into(),
        scheduled_at: Some(Utc::now()),
        account_ids: vec![account.id],
        media: Vec::new(),
        lateness: None,
    };
    let foreign = call::<CreatePost>(&world.client, "t", Some(stranger), request, RPC_TIMEOUT)
        .await
        .unwrap_err();
    assert_eq!(
        foreign.code,
        herald_contracts::rpc::ErrorCode::NotFound,
        "another tenant's account is not found"
    );
    let anonymous = call::<GetPost>(
        &world.client,
        "t",
        None,
        GetPostRequest { post_id: post.id },
        RPC_TIMEOUT,
    )
    .await
    .unwrap_err();
    assert_eq!(
        anonymous.code,
        herald_contracts::rpc::ErrorCode::Unauthenticated
    );
    service.stop().await
}

#[tokio::test]
async fn a_post_whose_schedule_was_lost_is_re_armed_and_published_once() -> anyhow::Result<()> {
    let world = World::new().await?;
    let env = herald_testkit::service_env(
        &world.nats.url(),
        Some(world.db.url()),
        &[
            ("HERALD_PUBLISHER_ALLOW_PRIVATE_NETWORKS", "true"),
            ("HERALD_PUBLISHER_SWEEP_SECS", "1"),
            ("HERALD_PUBLISHER_SWEEP_GRACE_SECS", "1"),
        ],
    );
    let service = Running::spawn(herald_publisher::start(env).await?);
    let account = world.connect_account("token-lost").await?;
    let post = schedule(
        &world,
        "the schedule of this post is lost",
        3,
        vec![account.id],
    )
    .await?;
    let subject = herald_contracts::messages::posts::schedule_subject(world.tenant, post.id);
    wait_for(
        "schedule held on the stream",
        Duration::from_secs(10),
        || async { (!world.stream_messages(&subject).await.ok()?.is_empty()).then_some(()) },
    )
    .await?;
    let js = herald_kit::async_nats::jetstream::new(world.client.clone());
    js.get_stream("POSTS")
        .await?
        .purge()
        .filter(subject.clone())
        .await?;
    assert!(
        world.stream_messages(&subject).await?.is_empty(),
        "the schedule is gone"
    );

    let done = wait_for(
        "post published by the sweeper's re-arm",
        Duration::from_secs(30),
        || async {
            post_state(&world, post.id)
                .await
                .filter(|p| p.status == PostStatus::Published)
        },
    )
    .await?;
    assert!(
        done.published_at
            .is_some_and(|at| Some(at) >= post.scheduled_at),
        "never early"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        world.sandbox.ledger().len(),
        1,
        "published exactly once despite repeated sweeps"
    );
    service.stop().await
}
