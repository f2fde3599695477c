//! The post lifecycle through the real service: drafts, edits, reschedules and cancels —
//! including the races with the due time — and retries that wait for rate limits and
//! failing platforms without publishing twice.

use crate::{World, get, ledger_count, read_stream, rpc, settled};
use chrono::Utc;
use herald_contracts::messages::{PostPublished, PostTargetFailed};
use herald_contracts::rpc::ErrorCode;
use herald_contracts::rpc::publisher::{
    CancelPost, CancelPostRequest, CreatePost, CreatePostRequest, ListPosts, ListPostsRequest,
    PostStatus, PostView, ReschedulePost, ReschedulePostRequest, TargetState, UpdatePost,
    UpdatePostRequest,
};
use herald_contracts::{AccountId, Envelope};
use herald_sandbox::{Faults, Platform as SandboxPlatform};
use herald_testkit::Running;
use std::time::Duration;

async fn create(
    world: &World,
    text: &str,
    in_ms: Option<i64>,
    accounts: Vec<AccountId>,
) -> anyhow::Result<PostView> {
    Ok(rpc::<CreatePost>(
        world,
        CreatePostRequest {
            text: text.into(),
            scheduled_at: in_ms.map(|ms| Utc::now() + chrono::Duration::milliseconds(ms)),
            account_ids: accounts,
            media: Vec::new(),
            lateness: None,
        },
    )
    .await?)
}

/// Quick retries so a test waits seconds, not minutes.
fn fast_env(world: &World) -> herald_kit::Env {
    herald_testkit::service_env(
        &world.nats.url(),
        Some(world.db.url()),
        &[
            ("HERALD_PUBLISHER_ALLOW_PRIVATE_NETWORKS", "true"),
            ("HERALD_PUBLISHER_RETRY_BASE_SECS", "0.2"),
            ("HERALD_PUBLISHER_RETRY_CAP_SECS", "1"),
            ("HERALD_PUBLISHER_BREAKER_THRESHOLD", "3"),
            ("HERALD_PUBLISHER_BREAKER_OPEN_SECS", "1"),
            ("HERALD_PUBLISHER_HTTP_TIMEOUT_SECS", "2"),
            ("HERALD_LOG", "info"),
        ],
    )
}

#[tokio::test]
async fn a_draft_is_edited_scheduled_and_published_once() -> anyhow::Result<()> {
    let world = World::new().await?;
    let service = Running::spawn(herald_publisher::start(fast_env(&world)).await?);
    let a = world.connect_account("token-draft-a").await?;
    let b = world.connect_account("token-draft-b").await?;
    let draft = create(&world, "first words", None, vec![a.id]).await?;
    assert_eq!(draft.status, PostStatus::Draft);
    assert_eq!(draft.scheduled_at, None);

    let edited = rpc::<UpdatePost>(
        &world,
        UpdatePostRequest {
            post_id: draft.id,
            text: Some("better words".into()),
            account_ids: Some(vec![a.id, b.id]),
            media: None,
        },
    )
    .await?;
    assert_eq!(edited.text, "better words");
    assert_eq!(edited.targets.len(), 2);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        world.sandbox.ledger().is_empty(),
        "a draft is never published"
    );

    let at = Utc::now() + chrono::Duration::seconds(1);
    let scheduled = rpc::<ReschedulePost>(
        &world,
        ReschedulePostRequest {
            post_id: draft.id,
            scheduled_at: at,
        },
    )
    .await?;
    assert_eq!(scheduled.status, PostStatus::Scheduled);
    let done = settled(&world, draft.id, 30).await?;
    assert_eq!(done.status, PostStatus::Published);
    assert_eq!(ledger_count(&world, "better words"), 2, "once per target");
    assert!(done.targets.iter().all(|t| t.state == TargetState::Done));

    // Published posts cannot be edited, rescheduled or cancelled.
    let refused = rpc::<UpdatePost>(
        &world,
        UpdatePostRequest {
            post_id: draft.id,
            text: Some("too late".into()),
            account_ids: None,
            media: None,
        },
    )
    .await
    .expect_err("edit after publish");
    assert_eq!(refused.code, ErrorCode::Conflict);
    let refused = rpc::<CancelPost>(&world, CancelPostRequest { post_id: draft.id })
        .await
        .expect_err("cancel after publish");
    assert_eq!(refused.code, ErrorCode::Conflict);

    let listed = rpc::<ListPosts>(
        &world,
        ListPostsRequest {
            status: Some(PostStatus::Published),
            ..ListPostsRequest::default()
        },
    )
    .await?;
    assert_eq!(listed.posts.len(), 1);
    assert_eq!(listed.posts[0].id, draft.id);
    service.stop().await?;
    Ok(())
}

#[tokio::test]
async fn a_cancelled_post_is_never_published_and_its_schedule_is_gone() -> anyhow::Result<()> {
    let world = World::new().await?;
    let service = Running::spawn(herald_publisher::start(fast_env(&world)).await?);
    let account = world.connect_account("token-cancel").await?;
    let post = create(&world, "never to be seen", Some(1500), vec![account.id]).await?;
    let cancelled = rpc::<CancelPost>(&world, CancelPostRequest { post_id: post.id }).await?;
    assert_eq!(cancelled.status, PostStatus::Cancelled);
    assert_eq!(cancelled.targets[0].state, TargetState::Cancelled);
    let held = read_stream(
        &world.client,
        "POSTS",
        &format!("posts.schedule.{}.{}", world.tenant, post.id),
    )
    .await?;
    assert!(held.is_empty(), "the held schedule was purged");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(ledger_count(&world, "never to be seen"), 0);
    assert_eq!(get(&world, post.id).await?.status, PostStatus::Cancelled);
    let events = read_stream(
        &world.client,
        "POSTS",
        &format!("posts.cancelled.{}.>", world.tenant),
    )
    .await?;
    assert_eq!(events.len(), 1);
    service.stop().await?;
    Ok(())
}

/// Reschedules and cancels fired right at the due time: whichever commits first decides, and
/// every post ends published exactly once or not at all.
#[tokio::test]
async fn reschedule_and_cancel_racing_the_due_time_publish_at_most_once() -> anyhow::Result<()> {
    const POSTS: usize = 24;
    let world = World::new().await?;
    let service = Running::spawn(herald_publisher::start(fast_env(&world)).await?);
    let account = world.connect_account("token-race").await?;
    // Slow platform calls widen the window in which a target is in flight.
    world.sandbox.set_faults(
        SandboxPlatform::Mastodon,
        Faults {
            latency_ms: 300,
            ..Faults::default()
        },
    )?;
    let mut posts = Vec::new();
    for i in 0..POSTS {
        posts.push(create(&world, &format!("race {i}"), Some(1000), vec![account.id]).await?);
    }
    let due = posts[0].scheduled_at.unwrap_or_else(Utc::now);
    let wait = (due - Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(wait.saturating_sub(Duration::from_millis(150))).await;
    let mut outcomes = Vec::new();
    let mut actions = Vec::new();
    for (i, post) in posts.iter().enumerate() {
        let post_id = post.id;
        let world = &world;
        actions.push(async move {
            if i % 2 == 0 {
                let to = Utc::now() + chrono::Duration::seconds(1);
                rpc::<ReschedulePost>(
                    world,
                    ReschedulePostRequest {
                        post_id,
                        scheduled_at: to,
                    },
                )
                .await
                .map(|_| "rescheduled")
            } else {
                rpc::<CancelPost>(world, CancelPostRequest { post_id })
                    .await
                    .map(|_| "cancelled")
            }
        });
    }
    for result in herald_kit::futures::future::join_all(actions).await {
        outcomes.push(result);
    }
    let (mut rescheduled, mut cancelled, mut refused) = (0, 0, 0);
    for (i, (post, outcome)) in posts.iter().zip(&outcomes).enumerate() {
        let text = format!("race {i}");
        let end = settled(&world, post.id, 60).await.ok();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let count = ledger_count(&world, &text);
        match outcome {
            Ok("cancelled") => {
                cancelled += 1;
                assert_eq!(count, 0, "{text}: published after a confirmed cancel");
                assert_eq!(end.map(|p| p.status), Some(PostStatus::Cancelled));
            }
            Ok(_) => {
                rescheduled += 1;
                assert_eq!(count, 1, "{text}: rescheduled post published once");
            }
            Err(error) => {
                refused += 1;
                assert_eq!(error.code, ErrorCode::Conflict, "{text}: {error:?}");
                let end = end.map(|p| p.status);
                // Too late to change: it was publishing, so it published once.
                assert_eq!(end, Some(PostStatus::Published), "{text}");
                assert_eq!(count, 1, "{text}");
            }
        }
    }
    println!("race: rescheduled={rescheduled} cancelled={cancelled} refused={refused}");
    // Nothing arrives late either.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for (i, outcome) in outcomes.iter().enumerate() {
        let expected = usize::from(!matches!(outcome, Ok("cancelled")));
        assert_eq!(ledger_count(&world, &format!("race {i}")), expected);
    }
    service.stop().await?;
    Ok(())
}

#[tokio::test]
async fn rate_limits_and_outages_are_waited_out_and_publish_once() -> anyhow::Result<()> {
    let world = World::new().await?;
    let service = Running::spawn(herald_publisher::start(fast_env(&world)).await?);
    let account = world.connect_account("token-flaky").await?;
    world.sandbox.set_faults(
        SandboxPlatform::Mastodon,
        Faults {
            rate_limit_rate: 0.5,
            error_rate: 0.3,
            drop_after_commit_rate: 0.3,
            ..Faults::default()
        },
    )?;
    let mut posts = Vec::new();
    for i in 0..8 {
        posts.push(create(&world, &format!("flaky {i}"), Some(0), vec![account.id]).await?);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    world
        .sandbox
        .set_faults(SandboxPlatform::Mastodon, Faults::default())?;
    for (i, post) in posts.iter().enumerate() {
        let Ok(done) = settled(&world, post.id, 20).await else {
            for m in read_stream(&world.client, "POSTS", "posts.>").await? {
                if m.subject.contains(&post.id.to_string()) {
                    println!("{} {:?}", m.subject, m.headers);
                }
            }
            panic!("flaky {i} never settled: {:?}", get(&world, post.id).await?);
        };
        assert_eq!(done.status, PostStatus::Published, "flaky {i}: {done:?}");
        assert_eq!(ledger_count(&world, &format!("flaky {i}")), 1, "flaky {i}");
    }
    service.stop().await?;
    Ok(())
}

#[tokio::test]
async fn a_refused_target_fails_alone_and_the_post_is_partially_published() -> anyhow::Result<()> {
    let world = World::new().await?;
    let service = Running::spawn(herald_publisher::start(fast_env(&world)).await?);
    let good = world.connect_account("token-good").await?;
    let doomed = world.connect_account("token-doomed").await?;
    // The platform stops accepting the second account's token after it was connected.
    crate::revoke_token_in_db(world.db.url(), doomed.id).await?;
    let post = create(&world, "half of it", Some(0), vec![good.id, doomed.id]).await?;
    let done = settled(&world, post.id, 30).await?;
    assert_eq!(done.status, PostStatus::PartiallyPublished);
    let failed: Vec<_> = done
        .targets
        .iter()
        .filter(|t| t.state == TargetState::Failed)
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].account_id, doomed.id);
    assert_eq!(ledger_count(&world, "half of it"), 1);

    let failures = read_stream(
        &world.client,
        "POSTS",
        &format!("posts.target.failed.{}.>", world.tenant),
    )
    .await?;
    assert_eq!(failures.len(), 1);
    let event: Envelope<PostTargetFailed> = serde_json::from_slice(&failures[0].payload)?;
    assert_eq!(event.data.account_id, doomed.id);
    assert!(!event.data.needs_attention);
    let published = read_stream(
        &world.client,
        "POSTS",
        &format!("posts.published.{}.>", world.tenant),
    )
    .await?;
    let event: Envelope<PostPublished> = serde_json::from_slice(&published[0].payload)?;
    assert!(event.data.partial);
    assert_eq!(event.data.targets.len(), 1);
    service.stop().await?;
    Ok(())
}
