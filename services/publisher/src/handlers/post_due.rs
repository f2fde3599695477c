//! `post.due`: publish every open target of the post exactly once.
//!
//! Each target is its own effect with a state machine in `post_targets`: a conditional UPDATE
//! claims it (`in_flight` with a lease and a fixed idempotency key) before the platform call,
//! and the outcome is recorded after it. A crash mid-call leaves `in_flight` with an expiring
//! lease: the next delivery sees an unknown outcome and reconciles (for Mastodon, the same
//! `Idempotency-Key` returns the original status instead of creating a second one). When no
//! target is open, the post's final status and `post.published` commit together (outbox).

use crate::State;
use crate::adapters::{Creds, Publication, PublishOutcome};
use crate::repo::posts::{self, AttemptEnd};
use diesel_async::AsyncConnection;
use herald_contracts::messages::{Platform, PostDue, PostPublished, PublishedTarget};
use herald_contracts::{AccountId, Envelope};
use herald_kit::futures::future::BoxFuture;
use herald_kit::{Delivery, Handler, HandlerError, Outgoing, outbox};
use std::sync::Arc;

pub const MAX_DELIVER: i64 = 10;

pub struct PublishDue(pub Arc<State>);

impl Handler<PostDue> for PublishDue {
    fn handle<'a>(
        &'a self,
        message: Envelope<PostDue>,
        delivery: &'a Delivery,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(publish_due(self.0.clone(), message, delivery))
    }
}

async fn publish_due(
    state: Arc<State>,
    message: Envelope<PostDue>,
    delivery: &Delivery,
) -> Result<(), HandlerError> {
    let tenant = message.tenant_id;
    let post_id = message.data.post_id;
    let mut conn = state.db.conn().await?;
    let Some((post, _)) = posts::find_post(&mut conn, tenant, post_id).await? else {
        tracing::warn!(post.id = %post_id, "due post does not exist; nothing to publish");
        return Ok(());
    };
    if post.generation != message.data.generation {
        tracing::info!(post.id = %post_id, "stale schedule (post was rescheduled); ignored");
        return Ok(());
    }
    if post.status == "published" || post.status == "failed" {
        tracing::info!(post.id = %post_id, status = %post.status, "post already settled");
        return Ok(());
    }
    posts::mark_publishing(&mut conn, tenant, post_id).await?;
    let lateness_ms = (chrono::Utc::now() - message.data.due_at).num_milliseconds();
    metrics::histogram!("herald_publish_lateness_seconds")
        .record(lateness_ms.max(0) as f64 / 1000.0);
    let last_delivery = delivery.delivered >= MAX_DELIVER;
    let mut retry: Option<String> = None;
    for open in posts::open_targets(&mut conn, tenant, post_id).await? {
        let account = AccountId::from_uuid(open.target.account_id);
        let Some((attempt, ambiguous)) =
            posts::claim_target(&mut conn, tenant, post_id, account, state.lease).await?
        else {
            retry = Some("target is being published by another worker".into());
            continue;
        };
        if ambiguous {
            tracing::info!(account.id = %account, attempt, "previous outcome unknown: reconciling with the same idempotency key");
        }
        let started = std::time::Instant::now();
        let outcome = match Platform::parse(&open.platform).and_then(|p| state.adapters.get(p)) {
            Some(adapter) => {
                let creds = Creds {
                    base_url: open.instance_url.clone(),
                    remote_account_id: String::new(),
                    access_token: herald_kit::Secret::new(open.access_token.clone()),
                };
                let publication = Publication {
                    text: post.text.clone(),
                    idempotency_key: open.target.idempotency_key.clone(),
                    first_attempt_at: chrono::Utc::now(),
                    checkpoint: None,
                    image_url: None,
                };
                adapter.publish(&creds, &publication).await.value
            }
            None => PublishOutcome::Terminal {
                reason: format!("unsupported platform {}", open.platform),
            },
        };
        metrics::histogram!("herald_platform_call_seconds", "platform" => open.platform.clone(), "call" => "publish")
            .record(started.elapsed().as_secs_f64());
        let end = match &outcome {
            PublishOutcome::Published {
                remote_id,
                remote_url,
            } => {
                tracing::info!(account.id = %account, attempt, remote.id = %remote_id, "published");
                AttemptEnd::Done {
                    remote_id,
                    remote_url: remote_url.as_deref(),
                }
            }
            PublishOutcome::Retryable { reason, .. } if last_delivery => {
                AttemptEnd::Failed { error: reason }
            }
            PublishOutcome::Retryable { reason, .. } => {
                retry = Some(reason.clone());
                AttemptEnd::NotCreated { error: reason }
            }
            PublishOutcome::Checkpoint { reference: reason }
            | PublishOutcome::Pending { reason, .. }
            | PublishOutcome::Ambiguous { reason } => {
                // Stays `unknown` even on the last delivery: only reconciliation may settle it.
                retry = Some(reason.clone());
                AttemptEnd::Unknown { error: reason }
            }
            PublishOutcome::Terminal { reason } => {
                tracing::warn!(account.id = %account, reason = %reason, "target failed");
                AttemptEnd::Failed { error: reason }
            }
        };
        let outcome_label = match end {
            AttemptEnd::Done { .. } => "done",
            AttemptEnd::NotCreated { .. } => "retry",
            AttemptEnd::Unknown { .. } => "unknown",
            AttemptEnd::Failed { .. } => "failed",
        };
        metrics::counter!("herald_publish_attempts_total", "platform" => open.platform.clone(), "outcome" => outcome_label).increment(1);
        posts::finish_attempt(&mut conn, tenant, post_id, account, end).await?;
    }
    settle(&state, &mut conn, &message).await?;
    match retry {
        Some(reason) => Err(HandlerError::Retry(reason)),
        None => Ok(()),
    }
}

/// Final status and `post.published` commit together, once.
async fn settle(
    state: &State,
    conn: &mut diesel_async::AsyncPgConnection,
    message: &Envelope<PostDue>,
) -> Result<(), HandlerError> {
    let tenant = message.tenant_id;
    let post_id = message.data.post_id;
    let wrote = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            let Some(targets) = posts::settle_post(conn, tenant, post_id).await? else {
                return Ok(false);
            };
            let published: Vec<PublishedTarget> = targets
                .into_iter()
                .filter(|(target, _, _)| target.state == "done")
                .filter_map(|(target, platform, instance_url)| {
                    Some(PublishedTarget {
                        account_id: AccountId::from_uuid(target.account_id),
                        platform: Platform::parse(&platform)?,
                        instance_url,
                        remote_id: target.remote_id?,
                        remote_url: target.remote_url,
                        published_at: target.published_at?,
                    })
                })
                .collect();
            if published.is_empty() {
                return Ok(false);
            }
            let event = message.caused(PostPublished {
                post_id,
                targets: published,
            });
            outbox::enqueue(conn, &[Outgoing::message(&event)]).await?;
            Ok(true)
        })
        .await?;
    if wrote {
        state.outbox.wake();
    }
    Ok(())
}
