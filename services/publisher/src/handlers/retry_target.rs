//! Failed targets as dead letters, and `post.target.retry`: re-opening one when an operator
//! replays its letter (`heraldctl dlq replay`).
//!
//! When a due round records a target as `failed` (its attempts ran out, or the platform refused
//! it for good), the same transaction numbers the failure and writes, through the outbox, a dead
//! letter on `dlq.POSTS.publisher-retry` whose payload is a `post.target.retry` command (id
//! `post.target.dead:<post>:<account>:<failure>`, so a retried transaction writes it once).
//! Replayed, the command arrives on `posts.retry.<tenant>.<post>`, and this handler (run by the
//! kit in one transaction with the inbox row, so one replay acts once) re-opens the target only
//! if it is still `failed`: a fresh attempt budget, the post back to `publishing`, and a due
//! round armed now. It then goes down the ordinary claim path: a target whose failed attempt
//! had started from an unknown outcome comes back `unknown` and is reconciled before anything
//! is published, and the platform's idempotency key is the same as before. Replaying a letter
//! again, or an old one after the target was published, changes nothing.

use crate::repo::posts;
use crate::repo::target_failures::{self, REOPENABLE_POSTS};
use chrono::Utc;
use diesel_async::AsyncPgConnection;
use herald_contracts::messages::post_retry::RETRY_DURABLE;
use herald_contracts::messages::posts::schedule_subject;
use herald_contracts::messages::{Platform, PostDue, PostTargetFailed, PostTargetRetry};
use herald_contracts::streams::POSTS;
use herald_contracts::{AccountId, Envelope, Message, PostId};
use herald_kit::futures::future::BoxFuture;
use herald_kit::{Delivery, HandlerError, Outgoing, TxHandler};

/// A failure as the due round's record step knows it.
pub(crate) struct Failure<'a> {
    pub post_id: PostId,
    pub account: AccountId,
    pub platform: Platform,
    pub attempts: i32,
    pub reason: &'a str,
    /// The failed attempt had claimed a target whose previous outcome was unknown.
    pub reconcile_first: bool,
}

/// In the record step's transaction, for a target that has just ended `failed`: numbers and
/// stores the failure and returns its dead letter. A later failure of a re-opened target also
/// gets its own `post.target.failed` id (the first keeps the plain one).
pub(crate) async fn dead_letter<M: Message>(
    conn: &mut AsyncPgConnection,
    cause: &Envelope<M>,
    failure: Failure<'_>,
    failed_event: &mut Envelope<PostTargetFailed>,
) -> diesel::QueryResult<Outgoing> {
    let number = target_failures::record_failure(
        conn,
        cause.tenant_id,
        failure.post_id,
        failure.account,
        failure.attempts,
        failure.reason,
        failure.reconcile_first,
    )
    .await?;
    if number > 1 {
        failed_event.id = format!("{}:{number}", failed_event.id);
    }
    let retry = cause.caused(PostTargetRetry {
        post_id: failure.post_id,
        account_id: failure.account,
        platform: failure.platform,
        reason: failure.reason.to_owned(),
        attempts: failure.attempts,
        failure: number,
    });
    metrics::counter!("herald_dlq_messages_total", "stream" => POSTS, "consumer" => RETRY_DURABLE)
        .increment(1);
    tracing::warn!(post.id = %failure.post_id, account.id = %failure.account, failure = number, reason = %failure.reason, "target failed; dead letter written");
    Ok(herald_kit::dlq::letter(
        &retry,
        retry.data.dead_letter_id(),
        "publisher",
        POSTS,
        RETRY_DURABLE,
        failure.reason,
        u64::try_from(failure.attempts).unwrap_or_default(),
    ))
}

/// The retry consumer's handler.
pub struct RetryTarget;

impl TxHandler<PostTargetRetry> for RetryTarget {
    fn handle<'a>(
        &'a self,
        conn: &'a mut AsyncPgConnection,
        message: &'a Envelope<PostTargetRetry>,
        _delivery: &'a Delivery,
    ) -> BoxFuture<'a, Result<Vec<Outgoing>, HandlerError>> {
        Box::pin(reopen(conn, message))
    }
}

async fn reopen(
    conn: &mut AsyncPgConnection,
    message: &Envelope<PostTargetRetry>,
) -> Result<Vec<Outgoing>, HandlerError> {
    let tenant = message.tenant_id;
    let retry = &message.data;
    let (post_id, account) = (retry.post_id, retry.account_id);
    let nothing = |why: &str| {
        tracing::info!(post.id = %post_id, account.id = %account, failure = retry.failure, "{why}; nothing to retry");
        Ok(Vec::new())
    };
    // The post's lock serialises this with a due round's claim, a cancel and a reschedule.
    let Some(post) = posts::lock_post(conn, tenant, post_id).await? else {
        return Err(HandlerError::terminal(format!(
            "post {post_id} does not exist (any more)"
        )));
    };
    let Some(target) = target_failures::find_target(conn, tenant, post_id, account).await? else {
        return Err(HandlerError::terminal(format!(
            "post {post_id} has no target for account {account}"
        )));
    };
    if target.state != "failed" {
        return nothing(&format!("the target is {}", target.state));
    }
    if target.disconnected_at.is_some() {
        return Err(HandlerError::terminal(format!(
            "account {account} was disconnected, so post {post_id} cannot be published to it; \
             connect the account again and create a new post"
        )));
    }
    if !REOPENABLE_POSTS.contains(&post.status.as_str()) {
        return nothing(&format!("the post is {}", post.status));
    }
    // Without a recorded failure (one from before failures were recorded), be safe: reconcile
    // whenever an attempt was ever made.
    let reconcile_first = target_failures::last_reconcile_first(conn, tenant, post_id, account)
        .await?
        .unwrap_or(target.first_attempt_at.is_some());
    let state = if reconcile_first {
        "unknown"
    } else {
        "pending"
    };
    if !target_failures::reopen_target(conn, tenant, post_id, account, state).await? {
        return nothing("the target changed meanwhile");
    }
    target_failures::reopen_post(conn, tenant, post_id).await?;
    let now = Utc::now();
    let round = posts::next_round(conn, tenant, post_id, now).await?;
    let due = message.caused(PostDue {
        post_id,
        generation: post.generation,
        due_at: post.scheduled_at.unwrap_or(now),
        round,
    });
    tracing::info!(post.id = %post_id, account.id = %account, failure = retry.failure, state, round, "failed target re-opened; due round armed");
    Ok(vec![Outgoing::schedule(
        &due,
        schedule_subject(tenant, post_id),
        now,
    )])
}
