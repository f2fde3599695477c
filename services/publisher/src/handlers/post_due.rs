//! `post.due`: publish every open target of the post exactly once.
//!
//! One round, in three steps:
//! 1. **Claim** (one transaction, under the post's row lock, so a cancel or reschedule either
//!    committed before — and the round does nothing — or waits): the post becomes
//!    `publishing` and every target that may be attempted now is moved to `in_flight` with a
//!    lease, in one statement.
//! 2. **Call** the platforms, every claimed target concurrently. A target whose previous
//!    outcome is unknown is reconciled first; only a confirmed "absent" publishes again. A
//!    two-step platform's container id is saved before the publish step.
//! 3. **Record** (one transaction): every outcome, the per-target events, the accounts' rate
//!    limits, and then either the post's final status with `post.published`, or the next
//!    round armed as a JetStream scheduled message at the earliest time an open target may
//!    proceed (backoff, rate limit, open circuit, or a dead holder's lease).
//!
//! A crash anywhere leaves either the claim undone (the message is redelivered) or targets
//! `in_flight` with an expiring lease, which the next round treats as unknown.

use crate::State;
use crate::adapters::{
    Creds, MediaItem, PlatformAdapter, Publication, PublishOutcome, RateLimit, Reconciled,
    RefreshError,
};
use crate::handlers::retry_target;
use crate::media;
use crate::repo::accounts;
use crate::repo::posts::{self, AttemptEnd, Claimed, Settled};
use chrono::{DateTime, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use herald_contracts::messages::posts::schedule_subject;
use herald_contracts::messages::{
    Platform, PostDue, PostHeld, PostPublished, PostTargetFailed, PostTargetPublished,
    PublishedTarget,
};
use herald_contracts::rpc::publisher::MediaView;
use herald_contracts::{AccountId, Envelope, PostId, TenantId};
use herald_kit::futures::future::{BoxFuture, join_all};
use herald_kit::group::Work;
use herald_kit::{Delivery, Handler, HandlerError, Outgoing, Secret, outbox};
use std::sync::Arc;
use std::time::Duration;

pub const MAX_DELIVER: i64 = 10;
/// Steps of one attempt (create container, publish it) before the round gives up for now.
const MAX_STEPS: usize = 3;
/// Refresh a token this long before it expires.
const REFRESH_AHEAD: chrono::Duration = chrono::Duration::minutes(10);
/// Poll a platform that is still processing (a media container) this often by default.
const PENDING_POLL: Duration = Duration::from_secs(2);

pub struct PublishDue(pub Arc<State>);

impl Handler<PostDue> for PublishDue {
    fn handle<'a>(
        &'a self,
        message: Envelope<PostDue>,
        _delivery: &'a Delivery,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(publish_due(self.0.clone(), message))
    }
}

/// What step 1 decided.
pub enum Claim {
    /// Not this round's business (stale generation or round, settled, cancelled, missing).
    Skip(&'static str),
    /// Due later than its lateness policy allows: held for a person.
    Held { late_by_secs: i64 },
    Claimed {
        text: String,
        media: Vec<MediaView>,
        targets: Vec<Claimed>,
    },
}

async fn publish_due(state: Arc<State>, message: Envelope<PostDue>) -> Result<(), HandlerError> {
    let tenant = message.tenant_id;
    let message = Arc::new(message);
    let due = &message.data;
    let paused: Vec<String> = state
        .breakers
        .open()
        .into_iter()
        .map(|(p, _)| p.as_str().to_owned())
        .collect();
    let claim = state
        .claims
        .submit(ClaimItem {
            message: message.clone(),
            paused,
            lease: state.lease,
        })
        .await?;
    let (post_text, post_media, claimed) = match claim {
        Claim::Skip(why) => {
            tracing::info!(post.id = %due.post_id, generation = due.generation, round = due.round, "{why}; nothing to do");
            return Ok(());
        }
        Claim::Held { late_by_secs } => {
            tracing::warn!(post.id = %due.post_id, late_by_secs, "due later than its lateness policy allows; held for a person");
            state.outbox.wake();
            return Ok(());
        }
        Claim::Claimed {
            text,
            media,
            targets,
        } => (text, media, targets),
    };
    let now = Utc::now();
    for target in claimed.iter().filter(|t| t.attempts == 1) {
        let lateness = (now - due.due_at).num_milliseconds().max(0) as f64 / 1000.0;
        metrics::histogram!("herald_publish_lateness_seconds", "platform" => target.platform.clone())
            .record(lateness);
    }
    // Read once per round for all targets; a failure to read leaves every target to a later
    // round (an unknown one stays unknown: it is reconciled before anything is published).
    let images = if post_media.is_empty() || claimed.is_empty() {
        Ok(Vec::new())
    } else {
        media::load(
            &state.js.client(),
            &state.media,
            &message.correlation_id,
            &post_media,
        )
        .await
    };
    let results = join_all(claimed.iter().map(|target| {
        attempt(
            &state,
            tenant,
            due.post_id,
            &post_text,
            images.as_deref(),
            target,
        )
    }))
    .await;

    record(&state, message, claimed, results).await
}

/// Step 1 for one post, as a unit of a group-committed transaction.
pub struct ClaimItem {
    message: Arc<Envelope<PostDue>>,
    paused: Vec<String>,
    lease: chrono::Duration,
}

/// Claims run as group commits: the posts coming due at once share a transaction.
pub struct ClaimWork;

impl Work for ClaimWork {
    type Item = ClaimItem;
    type Output = Claim;
    type Error = HandlerError;

    fn tenant(&self, item: &ClaimItem) -> TenantId {
        item.message.tenant_id
    }

    fn run<'a>(
        &'a self,
        conn: &'a mut AsyncPgConnection,
        item: &'a ClaimItem,
    ) -> BoxFuture<'a, Result<Claim, HandlerError>> {
        Box::pin(async move { Ok(claim_one(conn, item).await?) })
    }

    fn group_failed(&self, reason: String) -> HandlerError {
        HandlerError::Retry(format!("database: {reason}"))
    }
}

async fn claim_one(
    conn: &mut AsyncPgConnection,
    item: &ClaimItem,
) -> Result<Claim, diesel::result::Error> {
    let message = item.message.as_ref();
    let tenant = message.tenant_id;
    let due = &message.data;
    let (lease, paused) = (item.lease, &item.paused);
    let Some(post) = posts::lock_post(conn, tenant, due.post_id).await? else {
        return Ok(Claim::Skip("post does not exist"));
    };
    if post.generation != due.generation {
        return Ok(Claim::Skip("stale generation (post was rescheduled)"));
    }
    if post.round != due.round {
        return Ok(Claim::Skip("stale round (a later round is armed)"));
    }
    if post.status != "scheduled" && post.status != "publishing" {
        return Ok(Claim::Skip(
            "post is not publishable (settled, draft or cancelled)",
        ));
    }
    if let (true, Some(max), Some(at)) = (
        post.status == "scheduled",
        post.max_late_secs,
        post.scheduled_at,
    ) {
        let late_by_secs = (Utc::now() - at).num_seconds();
        if late_by_secs > i64::from(max) {
            posts::hold(conn, tenant, due.post_id).await?;
            let held = message.caused(PostHeld {
                post_id: due.post_id,
                generation: due.generation,
                scheduled_at: at,
                late_by_secs,
                max_late_secs: max.max(0) as u32,
            });
            outbox::enqueue(conn, &[Outgoing::message(&held)]).await?;
            return Ok(Claim::Held { late_by_secs });
        }
    }
    posts::mark_publishing(conn, tenant, due.post_id).await?;
    let targets = posts::claim_targets(conn, tenant, due.post_id, lease, paused).await?;
    Ok(Claim::Claimed {
        media: post.media(),
        text: post.text,
        targets,
    })
}

/// The end of one target's attempt and what the platform said about the account's budget.
struct AttemptResult {
    end: AttemptEnd,
    rate: Option<RateLimit>,
}

impl AttemptResult {
    fn of(end: AttemptEnd) -> Self {
        Self { end, rate: None }
    }
}

async fn attempt(
    state: &State,
    tenant: TenantId,
    post_id: PostId,
    text: &str,
    images: Result<&[MediaItem], &String>,
    target: &Claimed,
) -> AttemptResult {
    let account = AccountId::from_uuid(target.account_id);
    let images = match images {
        Ok(images) => images.to_vec(),
        Err(error) => {
            let error = error.clone();
            let not_before = later(state.backoff.delay(target.attempts), None);
            return AttemptResult::of(if target.ambiguous() {
                AttemptEnd::Unknown { error, not_before }
            } else if target.attempts >= state.max_attempts {
                AttemptEnd::Failed {
                    error: format!("gave up after {} attempts: {error}", target.attempts),
                }
            } else {
                AttemptEnd::Pending { error, not_before }
            });
        }
    };
    let Some(platform) = Platform::parse(&target.platform) else {
        return AttemptResult::of(AttemptEnd::Failed {
            error: format!("unsupported platform {}", target.platform),
        });
    };
    if target.disconnected_at.is_some() {
        return AttemptResult::of(AttemptEnd::Failed {
            error: "the account was disconnected".into(),
        });
    }
    let Some(adapter) = state.adapters.get(platform) else {
        return AttemptResult::of(AttemptEnd::Failed {
            error: format!("no adapter for {platform}"),
        });
    };
    // A token that does not open (its key is missing, or it was sealed for another row) will
    // not open on a later attempt either.
    let access_token = match accounts::open_claimed(&state.db, &state.tokens, tenant, target).await
    {
        Ok(token) => token,
        Err(error) => {
            return AttemptResult::of(AttemptEnd::Failed {
                error: error.to_string(),
            });
        }
    };
    let mut creds = Creds {
        base_url: state
            .platforms
            .base_url(platform)
            .map_or_else(|| target.instance_url.clone(), str::to_owned),
        remote_account_id: target.remote_account_id.clone(),
        access_token,
    };
    if let Err(end) =
        fresh_token(state, tenant, account, target, adapter.as_ref(), &mut creds).await
    {
        return AttemptResult::of(end);
    }
    let mut publication = Publication {
        text: text.to_owned(),
        idempotency_key: target.idempotency_key.clone(),
        first_attempt_at: target.first_attempt_at,
        checkpoint: target.checkpoint.clone(),
        media: images,
    };
    let started = std::time::Instant::now();
    let result = run_attempt(
        state,
        tenant,
        post_id,
        account,
        platform,
        adapter.as_ref(),
        &creds,
        &mut publication,
        target,
    )
    .await;
    metrics::histogram!("herald_platform_call_seconds", "platform" => platform.as_str())
        .record(started.elapsed().as_secs_f64());
    metrics::counter!("herald_publish_attempts_total", "platform" => platform.as_str(), "outcome" => result.end.label())
        .increment(1);
    result
}

#[allow(clippy::too_many_arguments)]
async fn run_attempt(
    state: &State,
    tenant: TenantId,
    post_id: PostId,
    account: AccountId,
    platform: Platform,
    adapter: &dyn PlatformAdapter,
    creds: &Creds,
    publication: &mut Publication,
    target: &Claimed,
) -> AttemptResult {
    let attempts = target.attempts;
    if target.ambiguous() {
        let reply = adapter.reconcile(creds, publication).await;
        match reply.value {
            Reconciled::Found {
                remote_id,
                remote_url,
            } => {
                tracing::info!(account.id = %account, attempt = attempts, "reconciled: the earlier attempt had published");
                return AttemptResult {
                    end: AttemptEnd::Done {
                        remote_id,
                        remote_url,
                    },
                    rate: reply.rate,
                };
            }
            Reconciled::Absent => {
                tracing::info!(account.id = %account, attempt = attempts, "reconciled: not there; publishing again is safe");
            }
            Reconciled::Unverifiable { reason } => {
                tracing::warn!(account.id = %account, reason = %reason, "outcome cannot be verified; a person must decide");
                return AttemptResult {
                    end: AttemptEnd::NeedsAttention {
                        error: format!(
                            "the earlier attempt's outcome is unknown and cannot be checked: {reason}"
                        ),
                    },
                    rate: reply.rate,
                };
            }
            Reconciled::Unavailable { reason, .. } if attempts >= 3 * state.max_attempts => {
                tracing::warn!(account.id = %account, reason = %reason, "reconciliation keeps failing; a person must decide");
                return AttemptResult {
                    end: AttemptEnd::NeedsAttention {
                        error: format!(
                            "the earlier attempt's outcome is unknown and {attempts} checks could not settle it: {reason}"
                        ),
                    },
                    rate: reply.rate,
                };
            }
            Reconciled::Unavailable {
                reason,
                retry_after,
            } => {
                state.breakers.failure(platform);
                return AttemptResult {
                    end: AttemptEnd::Unknown {
                        error: format!("reconciliation failed: {reason}"),
                        not_before: later(state.backoff.delay(attempts), retry_after),
                    },
                    rate: reply.rate,
                };
            }
        }
    }
    let mut rate = None;
    for _ in 0..MAX_STEPS {
        let reply = adapter.publish(creds, publication).await;
        rate = reply.rate.or(rate);
        let end = match reply.value {
            PublishOutcome::Published {
                remote_id,
                remote_url,
            } => {
                state.breakers.success(platform);
                AttemptEnd::Done {
                    remote_id,
                    remote_url,
                }
            }
            PublishOutcome::Checkpoint { reference } => {
                state.breakers.success(platform);
                // Saved before the next step, so a crash between the steps is recognised.
                let saved = match state.db.tenant(tenant).await {
                    Ok(mut conn) => posts::save_checkpoint(
                        &mut conn, tenant, post_id, account, attempts, &reference,
                    )
                    .await
                    .map_err(|e| e.to_string()),
                    Err(error) => Err(error.to_string()),
                };
                match saved {
                    Ok(1) => {
                        publication.checkpoint = Some(reference);
                        continue;
                    }
                    Ok(_) => AttemptEnd::Failed {
                        error: "lost the target while saving its container".into(),
                    },
                    Err(error) => {
                        tracing::warn!(error = %error, "could not save the container id; will create another");
                        AttemptEnd::Pending {
                            error: "could not save the container id".into(),
                            not_before: later(state.backoff.delay(attempts), None),
                        }
                    }
                }
            }
            PublishOutcome::Pending {
                reason,
                retry_after,
            } => AttemptEnd::Pending {
                error: reason,
                not_before: later(retry_after.unwrap_or(PENDING_POLL), None),
            },
            PublishOutcome::Retryable {
                reason,
                retry_after,
            } => {
                if retry_after.is_none() {
                    state.breakers.failure(platform);
                }
                if attempts >= state.max_attempts {
                    AttemptEnd::Failed {
                        error: format!("gave up after {attempts} attempts: {reason}"),
                    }
                } else {
                    if let Some(wait) = retry_after {
                        rate = Some(RateLimit {
                            remaining: 0,
                            reset_at: Utc::now()
                                + chrono::Duration::from_std(wait).unwrap_or_default(),
                        });
                    }
                    AttemptEnd::Pending {
                        error: reason,
                        not_before: later(state.backoff.delay(attempts), retry_after),
                    }
                }
            }
            PublishOutcome::Terminal { reason } => {
                tracing::warn!(account.id = %account, reason = %reason, "target failed");
                AttemptEnd::Failed { error: reason }
            }
            PublishOutcome::Ambiguous { reason } => {
                state.breakers.failure(platform);
                // Stays `unknown` whatever the attempt count: only reconciliation settles it.
                AttemptEnd::Unknown {
                    error: reason,
                    not_before: later(state.backoff.delay(attempts), None),
                }
            }
        };
        return AttemptResult { end, rate };
    }
    AttemptResult {
        end: AttemptEnd::Pending {
            error: "the platform asked for more steps than expected".into(),
            not_before: later(state.backoff.delay(attempts), None),
        },
        rate,
    }
}

/// The later of now + `backoff` and now + `retry_after`.
fn later(backoff: Duration, retry_after: Option<Duration>) -> DateTime<Utc> {
    let wait = retry_after.map_or(backoff, |r| r.max(backoff));
    Utc::now() + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::seconds(60))
}

/// Refreshes the account's token when it expires soon. Serialised on the account's row, and
/// re-checked under the lock, so a rotating refresh token is presented once.
async fn fresh_token(
    state: &State,
    tenant: TenantId,
    account: AccountId,
    target: &Claimed,
    adapter: &dyn PlatformAdapter,
    creds: &mut Creds,
) -> Result<(), AttemptEnd> {
    let expiring = target
        .token_expires_at
        .is_some_and(|at| at < Utc::now() + REFRESH_AHEAD);
    if !expiring {
        return Ok(());
    }
    let retry = |error: String| AttemptEnd::Pending {
        error,
        not_before: later(state.backoff.delay(target.attempts), None),
    };
    let mut conn = state
        .db
        .tenant(tenant)
        .await
        .map_err(|e| retry(e.to_string()))?;
    let refreshed = conn
        .transaction::<_, RefreshFailure, _>(async |conn| {
            let Some(current) = accounts::lock(conn, &state.tokens, tenant, account).await? else {
                return Err(RefreshFailure::Refused("the account is gone".into()));
            };
            let still_expiring = current
                .token_expires_at
                .is_some_and(|at| at < Utc::now() + REFRESH_AHEAD);
            if !still_expiring {
                // Another worker refreshed it meanwhile.
                return Ok(current.access_token);
            }
            let expired = current.token_expires_at.is_some_and(|at| at <= Utc::now());
            // Meta's long-lived tokens refresh themselves: no refresh token, the access token
            // is presented instead.
            let presented = current
                .refresh_token
                .clone()
                .unwrap_or_else(|| current.access_token.clone());
            let tokens = match adapter.refresh(creds, &Secret::new(presented)).await {
                Ok(tokens) => tokens,
                Err(RefreshError::Unsupported) if !expired => return Ok(current.access_token),
                Err(RefreshError::Unsupported) => {
                    return Err(RefreshFailure::Refused(
                        "the token expired and cannot be refreshed".into(),
                    ));
                }
                Err(RefreshError::Rejected(reason)) => return Err(RefreshFailure::Refused(reason)),
                Err(RefreshError::Unavailable(reason)) if !expired => {
                    tracing::warn!(account.id = %account, reason = %reason, "token refresh failed; the current token is still valid");
                    return Ok(current.access_token);
                }
                Err(RefreshError::Unavailable(reason)) => return Err(RefreshFailure::Later(reason)),
            };
            accounts::store_tokens(
                conn,
                &state.tokens,
                tenant,
                account,
                tokens.access_token.expose(),
                tokens.refresh_token.as_ref().map(Secret::expose),
                tokens.expires_at,
            )
            .await?;
            tracing::info!(account.id = %account, "access token refreshed");
            Ok(tokens.access_token.expose().to_owned())
        })
        .await;
    match refreshed {
        Ok(token) => {
            creds.access_token = Secret::new(token);
            Ok(())
        }
        Err(RefreshFailure::Refused(reason)) => Err(AttemptEnd::Failed {
            error: format!("the account must be connected again: {reason}"),
        }),
        Err(RefreshFailure::Later(reason)) => Err(retry(format!("token refresh failed: {reason}"))),
        Err(RefreshFailure::Db(error)) => Err(retry(format!("database: {error}"))),
    }
}

enum RefreshFailure {
    Refused(String),
    Later(String),
    Db(diesel::result::Error),
}

impl From<diesel::result::Error> for RefreshFailure {
    fn from(error: diesel::result::Error) -> Self {
        RefreshFailure::Db(error)
    }
}

/// Step 3: every outcome, its events, the budgets, then settle or arm the next round.
async fn record(
    state: &State,
    message: Arc<Envelope<PostDue>>,
    claimed: Vec<Claimed>,
    results: Vec<AttemptResult>,
) -> Result<(), HandlerError> {
    let wrote = state
        .records
        .submit(RecordItem {
            message,
            claimed,
            results,
            circuits: state.breakers.open(),
        })
        .await?;
    if wrote {
        state.outbox.wake();
    }
    Ok(())
}

/// Step 3 for one post, as a unit of a group-committed transaction.
pub struct RecordItem {
    message: Arc<Envelope<PostDue>>,
    claimed: Vec<Claimed>,
    results: Vec<AttemptResult>,
    /// Open circuits and until when, as this replica saw them after the calls.
    circuits: Vec<(Platform, DateTime<Utc>)>,
}

/// Records run as group commits: the rounds ending at once share a transaction.
pub struct RecordWork;

impl Work for RecordWork {
    type Item = RecordItem;
    /// Whether outbox rows were written.
    type Output = bool;
    type Error = HandlerError;

    fn tenant(&self, item: &RecordItem) -> TenantId {
        item.message.tenant_id
    }

    fn run<'a>(
        &'a self,
        conn: &'a mut AsyncPgConnection,
        item: &'a RecordItem,
    ) -> BoxFuture<'a, Result<bool, HandlerError>> {
        Box::pin(async move { Ok(record_one(conn, item).await?) })
    }

    fn group_failed(&self, reason: String) -> HandlerError {
        HandlerError::Retry(format!("database: {reason}"))
    }
}

async fn record_one(
    conn: &mut AsyncPgConnection,
    item: &RecordItem,
) -> Result<bool, diesel::result::Error> {
    let message = item.message.as_ref();
    let (claimed, results) = (&item.claimed, &item.results);
    let tenant = message.tenant_id;
    let due = &message.data;
    {
        {
            let mut out: Vec<Outgoing> = Vec::new();
            for (target, result) in claimed.iter().zip(results) {
                let account = AccountId::from_uuid(target.account_id);
                if let Some(rate) = result.rate.filter(|r| r.remaining == 0) {
                    accounts::rate_limited(conn, tenant, account, rate.reset_at).await?;
                }
                let mine = posts::finish_attempt(
                    conn,
                    tenant,
                    due.post_id,
                    account,
                    target.attempts,
                    &result.end,
                )
                .await?;
                if !mine {
                    tracing::warn!(account.id = %account, "target was taken over after its lease ran out; outcome left to the new holder");
                    continue;
                }
                let platform = Platform::parse(&target.platform).unwrap_or_default();
                match &result.end {
                    AttemptEnd::Done {
                        remote_id,
                        remote_url,
                    } => out.push(Outgoing::message(&message.caused(PostTargetPublished {
                        post_id: due.post_id,
                        target: PublishedTarget {
                            account_id: account,
                            platform,
                            instance_url: target.instance_url.clone(),
                            remote_id: remote_id.clone(),
                            remote_url: remote_url.clone(),
                            published_at: Utc::now(),
                        },
                    }))),
                    AttemptEnd::Failed { error } | AttemptEnd::NeedsAttention { error } => {
                        let mut failed = message.caused(PostTargetFailed {
                            post_id: due.post_id,
                            account_id: account,
                            platform,
                            reason: error.clone(),
                            needs_attention: matches!(
                                result.end,
                                AttemptEnd::NeedsAttention { .. }
                            ),
                            attempts: target.attempts,
                        });
                        // Failed for good: a dead letter that an operator can replay to
                        // re-open the target (needs_attention waits for a person instead).
                        if matches!(result.end, AttemptEnd::Failed { .. }) {
                            let failure = retry_target::Failure {
                                post_id: due.post_id,
                                account,
                                platform,
                                attempts: target.attempts,
                                reason: error,
                                reconcile_first: target.ambiguous(),
                            };
                            out.push(
                                retry_target::dead_letter(conn, message, failure, &mut failed)
                                    .await?,
                            );
                        }
                        out.push(Outgoing::message(&failed))
                    }
                    AttemptEnd::Pending { .. } | AttemptEnd::Unknown { .. } => {}
                }
            }
            match posts::settle_post(conn, tenant, due.post_id).await? {
                Settled::Final { status, targets } => {
                    let published: Vec<PublishedTarget> = targets
                        .iter()
                        .filter(|t| t.target.state == "done")
                        .filter_map(|t| {
                            Some(PublishedTarget {
                                account_id: AccountId::from_uuid(t.target.account_id),
                                platform: Platform::parse(&t.platform)?,
                                instance_url: t.instance_url.clone(),
                                remote_id: t.target.remote_id.clone()?,
                                remote_url: t.target.remote_url.clone(),
                                published_at: t.target.published_at?,
                            })
                        })
                        .collect();
                    tracing::info!(post.id = %due.post_id, status, published = published.len(), targets = targets.len(), "post settled");
                    if !published.is_empty() {
                        out.push(Outgoing::message(&message.caused(PostPublished {
                            post_id: due.post_id,
                            partial: published.len() < targets.len(),
                            targets: published,
                        })));
                    }
                }
                Settled::Nothing => {}
                Settled::Open { targets } => {
                    let wake = next_wake(&targets, &item.circuits);
                    let round = posts::next_round(conn, tenant, due.post_id, wake).await?;
                    let next = message.caused(PostDue {
                        post_id: due.post_id,
                        generation: due.generation,
                        due_at: due.due_at,
                        round,
                    });
                    out.push(Outgoing::schedule(
                        &next,
                        schedule_subject(tenant, due.post_id),
                        wake,
                    ));
                    tracing::info!(post.id = %due.post_id, round, wake_at = %wake, "targets still open; next round armed");
                }
            }
            outbox::enqueue(conn, &out).await?;
            Ok(!out.is_empty())
        }
    }
}

/// The earliest time an open target may proceed.
fn next_wake(
    targets: &[posts::SettleRow],
    circuits: &[(Platform, DateTime<Utc>)],
) -> DateTime<Utc> {
    let now = Utc::now();
    targets
        .iter()
        .filter(|t| posts::OPEN_STATES.contains(&t.target.state.as_str()))
        .map(|t| {
            if t.target.state == "in_flight" {
                return t.target.lease_until.unwrap_or(now);
            }
            let circuit = Platform::parse(&t.platform).and_then(|p| {
                circuits
                    .iter()
                    .find(|(open, _)| *open == p)
                    .map(|(_, until)| *until)
            });
            [t.target.not_before, t.rate_limited_until, circuit]
                .into_iter()
                .flatten()
                .max()
                .unwrap_or(now)
        })
        .min()
        .unwrap_or(now)
        .max(now)
}
