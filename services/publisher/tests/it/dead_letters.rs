//! A target that fails for good becomes a dead letter (`dlq.POSTS.publisher-retry`) next to
//! its `post.target.failed` event; replaying the letter the way `heraldctl dlq replay` does
//! (`herald_kit::dlq::replay`) re-opens the target and publishes the post exactly once, and
//! replaying again, or an old letter after success, publishes nothing.

use crate::{World, get, ledger_count, read_stream, rpc, settled};
use chrono::Utc;
use herald_contracts::messages::post_retry::{RETRY_DURABLE, retry_subject};
use herald_contracts::messages::{PostTargetFailed, PostTargetRetry};
use herald_contracts::rpc::publisher::{
    CreatePost, CreatePostRequest, DisconnectAccount, DisconnectAccountRequest, PostStatus,
    PostView, TargetState,
};
use herald_contracts::streams::{DLQ, POSTS, dlq_subject};
use herald_contracts::{AccountId, Envelope};
use herald_kit::async_nats::jetstream;
use herald_kit::dlq::letters;
use herald_kit::dlq::replay::{Outcome, replay};
use herald_sandbox::{Faults, Platform as SandboxPlatform};
use herald_testkit::{Running, publish_envelope, wait_for};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

/// Due now. Built from JSON so that optional request fields added later need no change here.
async fn post_now(world: &World, text: &str, account: AccountId) -> anyhow::Result<PostView> {
    let request: CreatePostRequest = serde_json::from_value(serde_json::json!({
        "text": text,
        "scheduled_at": Utc::now(),
        "account_ids": [account],
    }))?;
    Ok(rpc::<CreatePost>(world, request).await?)
}

/// Quick retries and a budget of two attempts, so a target fails within seconds.
fn env(world: &World) -> herald_kit::Env {
    herald_testkit::service_env(
        &world.nats.url(),
        Some(world.db.url()),
        &[
            ("HERALD_PUBLISHER_ALLOW_PRIVATE_NETWORKS", "true"),
            ("HERALD_PUBLISHER_RETRY_BASE_SECS", "0.2"),
            ("HERALD_PUBLISHER_RETRY_CAP_SECS", "1"),
            ("HERALD_PUBLISHER_BREAKER_THRESHOLD", "50"),
            ("HERALD_PUBLISHER_MAX_ATTEMPTS", "2"),
            ("HERALD_PUBLISHER_HTTP_TIMEOUT_SECS", "2"),
            ("HERALD_LOG", "info"),
        ],
    )
}

fn header(message: &jetstream::Message, name: &str) -> Option<String> {
    message
        .headers
        .as_ref()?
        .get(name)
        .map(|value| value.as_str().to_owned())
}

/// The failed targets' dead letters of this test's tenant.
async fn letters_in_dlq(world: &World) -> anyhow::Result<Vec<jetstream::Message>> {
    let all = read_stream(&world.client, DLQ, &dlq_subject(POSTS, RETRY_DURABLE)).await?;
    Ok(all
        .into_iter()
        .filter(|m| header(m, "Herald-Tenant") == Some(world.tenant.to_string()))
        .collect())
}

/// Makes the sandbox throttle (429, retryable) every post until the returned post has failed
/// (its two attempts exhausted).
async fn failed_post(world: &World, text: &str, account: AccountId) -> anyhow::Result<PostView> {
    world.sandbox.set_faults(
        SandboxPlatform::Mastodon,
        Faults {
            rate_limit_rate: 1.0,
            ..Faults::default()
        },
    )?;
    let post = post_now(world, text, account).await?;
    let done = settled(world, post.id, 30).await?;
    world
        .sandbox
        .set_faults(SandboxPlatform::Mastodon, Faults::default())?;
    assert_eq!(done.status, PostStatus::Failed, "{done:?}");
    assert_eq!(done.targets[0].state, TargetState::Failed);
    Ok(done)
}

async fn replay_letter(js: &jetstream::Context, dlq_sequence: u64) -> anyhow::Result<Outcome> {
    let dlq = js.get_stream(DLQ).await?;
    let letter = letters::get(&dlq, dlq_sequence).await?;
    Ok(replay(js, &dlq, &letter).await?)
}

#[tokio::test]
async fn a_failed_target_is_dead_lettered_and_a_replay_publishes_it_once() -> anyhow::Result<()> {
    let world = World::new().await?;
    let service = Running::spawn(herald_publisher::start(env(&world)).await?);
    let js = jetstream::new(world.client.clone());
    let account = world.connect_account("token-dead-letter").await?;
    let post = failed_post(&world, "back from the dead", account.id).await?;
    assert_eq!(ledger_count(&world, "back from the dead"), 0);

    // Exactly one dead letter, with the reason, next to one post.target.failed.
    let letters_found = wait_for("the dead letter", WAIT, || async {
        letters_in_dlq(&world).await.ok().filter(|l| !l.is_empty())
    })
    .await?;
    let failures = read_stream(
        &world.client,
        POSTS,
        &format!("posts.target.failed.{}.>", world.tenant),
    )
    .await?;
    assert_eq!(failures.len(), 1);
    let failed: Envelope<PostTargetFailed> = serde_json::from_slice(&failures[0].payload)?;
    assert_eq!(failed.data.attempts, 2);
    assert!(!failed.data.needs_attention);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(letters_in_dlq(&world).await?.len(), 1, "one letter");
    assert_eq!(letters_found.len(), 1);
    let letter = &letters_found[0];
    assert_eq!(
        header(letter, "Nats-Msg-Id"),
        Some(format!("post.target.dead:{}:{}:1", post.id, account.id))
    );
    let reason = header(letter, "Herald-Dlq-Reason").unwrap_or_default();
    assert!(
        reason.starts_with("gave up after 2 attempts: rate limited (429)"),
        "{reason}"
    );
    assert_eq!(reason, failed.data.reason);
    assert_eq!(header(letter, "Herald-Dlq-Stream").as_deref(), Some(POSTS));
    assert_eq!(
        header(letter, "Herald-Dlq-Consumer").as_deref(),
        Some(RETRY_DURABLE)
    );
    assert_eq!(
        header(letter, "Herald-Dlq-Subject"),
        Some(retry_subject(world.tenant, post.id))
    );
    assert_eq!(
        header(letter, "Herald-Dlq-Origin").as_deref(),
        Some("publisher")
    );
    assert_eq!(header(letter, "Herald-Dlq-Sequence"), None);
    assert_eq!(
        header(letter, "Herald-Type").as_deref(),
        Some("post.target.retry.v1")
    );
    let command: Envelope<PostTargetRetry> = serde_json::from_slice(&letter.payload)?;
    assert_eq!(command.data.post_id, post.id);
    assert_eq!(command.data.account_id, account.id);
    assert_eq!(command.data.attempts, 2);
    assert_eq!(command.data.failure, 1);
    assert_eq!(command.data.reason, reason);

    // What `heraldctl dlq list|show` reads.
    let dlq_sequence = letter
        .info()
        .map_err(|e| anyhow::anyhow!(e))?
        .stream_sequence;
    let dlq = js.get_stream(DLQ).await?;
    let read = letters::get(&dlq, dlq_sequence).await?;
    assert_eq!(read.stream, POSTS);
    assert_eq!(read.consumer, RETRY_DURABLE);
    assert_eq!(read.origin(), "publisher");
    assert_eq!(read.sequence(), None);
    assert_eq!(read.reason(), reason);
    assert_eq!(read.deliveries(), Some(2));
    assert_eq!(read.original_id(), command.id);
    let listed = letters::read(&dlq, Some(POSTS), Some(RETRY_DURABLE)).await?;
    assert_eq!(listed.letters.len(), 1);
    assert!(listed.replays.is_empty());

    // The fault is gone: the replay re-opens the target and it is published once.
    let Outcome::Replayed(replayed) = replay_letter(&js, dlq_sequence).await? else {
        panic!("the first replay must publish");
    };
    assert_eq!(replayed.subject, retry_subject(world.tenant, post.id));
    // (The post stays `failed` until the retry consumer has re-opened it.)
    let done = wait_for("post published", WAIT, || async {
        get(&world, post.id)
            .await
            .ok()
            .filter(|p| p.status == PostStatus::Published)
    })
    .await?;
    assert_eq!(done.targets[0].state, TargetState::Done);
    assert_eq!(ledger_count(&world, "back from the dead"), 1);

    // Replaying again publishes nothing: the marker stops it before the stream.
    let again = replay_letter(&js, dlq_sequence).await?;
    assert!(matches!(again, Outcome::Already(_)), "{again:?}");
    // An old letter arriving after the target was published (another failure's command) is
    // acknowledged without effect.
    let mut stale = command.clone();
    stale.data.failure = 7;
    stale.id = format!("post.target.retry:{}:{}:7", post.id, account.id);
    let ack = publish_envelope(&world.client, &stale, "stale-letter").await?;
    wait_for("the stale command handled", WAIT, || async {
        herald_testkit::consumer_caught_up(&world.client, POSTS, RETRY_DURABLE, ack.sequence)
            .await
            .then_some(())
    })
    .await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        ledger_count(&world, "back from the dead"),
        1,
        "published once"
    );
    let end = get(&world, post.id).await?;
    assert_eq!(end.status, PostStatus::Published);
    assert_eq!(
        letters_in_dlq(&world).await?.len(),
        1,
        "nothing new dead-lettered"
    );
    let published = read_stream(
        &world.client,
        POSTS,
        &format!("posts.target.published.{}.>", world.tenant),
    )
    .await?;
    assert_eq!(published.len(), 1);
    service.stop().await?;
    Ok(())
}

#[tokio::test]
async fn a_target_that_fails_again_gets_a_new_letter_and_a_disconnected_account_is_refused()
-> anyhow::Result<()> {
    let world = World::new().await?;
    let service = Running::spawn(herald_publisher::start(env(&world)).await?);
    let js = jetstream::new(world.client.clone());
    let account = world.connect_account("token-twice").await?;
    let post = failed_post(&world, "still failing", account.id).await?;
    let first = wait_for("the first letter", WAIT, || async {
        letters_in_dlq(&world).await.ok().filter(|l| l.len() == 1)
    })
    .await?;
    let first_seq = first[0]
        .info()
        .map_err(|e| anyhow::anyhow!(e))?
        .stream_sequence;

    // The platform is still down: the re-opened target fails again, with a second letter and a
    // second post.target.failed (their ids carry the failure's number).
    world.sandbox.set_faults(
        SandboxPlatform::Mastodon,
        Faults {
            rate_limit_rate: 1.0,
            ..Faults::default()
        },
    )?;
    assert!(matches!(
        replay_letter(&js, first_seq).await?,
        Outcome::Replayed(_)
    ));
    let both = wait_for("the second letter", WAIT, || async {
        letters_in_dlq(&world).await.ok().filter(|l| l.len() == 2)
    })
    .await?;
    world
        .sandbox
        .set_faults(SandboxPlatform::Mastodon, Faults::default())?;
    assert_eq!(
        header(&both[1], "Nats-Msg-Id"),
        Some(format!("post.target.dead:{}:{}:2", post.id, account.id))
    );
    let again = settled(&world, post.id, 30).await?;
    assert_eq!(again.status, PostStatus::Failed);
    let failures = read_stream(
        &world.client,
        POSTS,
        &format!("posts.target.failed.{}.>", world.tenant),
    )
    .await?;
    assert_eq!(failures.len(), 2, "one event per failure");
    assert_eq!(ledger_count(&world, "still failing"), 0);

    // The account is disconnected before the second letter is replayed: the command is
    // terminated with the reason (and so dead-lettered by the mover), nothing is published.
    rpc::<DisconnectAccount>(
        &world,
        DisconnectAccountRequest {
            account_id: account.id,
        },
    )
    .await?;
    let second_seq = both[1]
        .info()
        .map_err(|e| anyhow::anyhow!(e))?
        .stream_sequence;
    assert!(matches!(
        replay_letter(&js, second_seq).await?,
        Outcome::Replayed(_)
    ));
    let refused = wait_for("the refused command dead-lettered", WAIT, || async {
        let letters = letters_in_dlq(&world).await.ok()?;
        letters
            .into_iter()
            .find(|m| header(m, "Herald-Dlq-Origin").is_none())
    })
    .await?;
    let reason = header(&refused, "Herald-Dlq-Reason").unwrap_or_default();
    assert!(reason.contains("was disconnected"), "{reason}");
    assert!(header(&refused, "Herald-Dlq-Sequence").is_some());
    tokio::time::sleep(Duration::from_secs(1)).await;
    let end = get(&world, post.id).await?;
    assert_eq!(end.status, PostStatus::Failed);
    assert_eq!(end.targets[0].state, TargetState::Failed);
    assert_eq!(ledger_count(&world, "still failing"), 0);
    service.stop().await?;
    Ok(())
}
