//! `insights.collect` → one metric sample per tracked target of the post for the round.
//!
//! This handler runs its own transaction (the kit's `consume`, not `consume_tx`) so that no
//! database transaction or pooled connection is held across the platform calls: it checks the
//! inbox and loads the targets, releases the connection, fetches every target concurrently,
//! then commits the kit's inbox row and the samples together. The fetches only read, so a
//! redelivery that fetches again is harmless, and the inbox row (checked again inside the
//! transaction) keeps a second sample for the round from ever being written.
//!
//! Failures: connection trouble, 5xx and 429 retry the whole message (nak with backoff); a
//! target that is gone (404/410) or refused for good is skipped; when no target is left the
//! message is terminal (dead-lettered).

use crate::platforms::{self, FetchError};
use crate::repo::samples::{self, NewSample};
use crate::repo::{inbox, tracked};
use chrono::Utc;
use diesel_async::AsyncConnection;
use herald_contracts::Envelope;
use herald_contracts::messages::{CollectMetrics, Platform};
use herald_kit::db::Db;
use herald_kit::futures::future::{self, BoxFuture};
use herald_kit::{Delivery, Handler, HandlerError};

pub struct CollectPostMetrics {
    pub db: Db,
    pub http: reqwest::Client,
}

impl Handler<CollectMetrics> for CollectPostMetrics {
    fn handle<'a>(
        &'a self,
        message: Envelope<CollectMetrics>,
        delivery: &'a Delivery,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let tenant = message.tenant_id;
            let post = message.data.post_id;
            let round = i32::try_from(message.data.round)
                .ok()
                .filter(|round| *round >= 1)
                .ok_or_else(|| HandlerError::terminal("round must be between 1 and 2^31-1"))?;
            let targets = {
                let mut conn = self.db.tenant(tenant).await?;
                if inbox::is_processed(&mut conn, &delivery.consumer, &message.id).await? {
                    tracing::info!("already processed; acknowledged without effect");
                    return Ok(());
                }
                let targets = tracked::targets_of(&mut conn, tenant, post).await?;
                if targets.is_empty()
                    && herald_kit::consumer::tenant_erased(&mut conn, tenant).await?
                {
                    tracing::info!("the tenant was erased; acknowledged without effect");
                    return Ok(());
                }
                targets
            };
            if targets.is_empty() {
                return Err(HandlerError::terminal(format!(
                    "post {post} has no tracked targets"
                )));
            }
            let fetches = targets.iter().map(|target| async move {
                match Platform::parse(&target.platform) {
                    Some(platform) => platforms::fetch(
                        &self.http,
                        platform,
                        &target.instance_url,
                        &target.remote_id,
                    )
                    .await
                    .map(|engagement| (platform, engagement)),
                    None => Err(FetchError::Unusable(format!(
                        "unknown platform {:?}",
                        target.platform
                    ))),
                }
            });
            let results = future::join_all(fetches).await;
            let mut new_samples = Vec::with_capacity(targets.len());
            let mut retry = None;
            for (target, result) in targets.iter().zip(results) {
                match result {
                    Ok((platform, engagement)) => new_samples.push(NewSample {
                        account_id: target.account_id,
                        platform,
                        remote_id: target.remote_id.clone(),
                        likes: engagement.likes,
                        reposts: engagement.reposts,
                        replies: engagement.replies,
                    }),
                    Err(FetchError::Retry(reason)) => {
                        tracing::warn!(account.id = %target.account_id, reason = %reason, "metrics fetch failed; the round will be retried");
                        retry.get_or_insert(reason);
                    }
                    Err(error) => {
                        tracing::warn!(account.id = %target.account_id, error = %error, "target skipped");
                    }
                }
            }
            if let Some(reason) = retry {
                return Err(HandlerError::retry(format!("metrics fetch: {reason}")));
            }
            if new_samples.is_empty() {
                return Err(HandlerError::terminal(format!(
                    "no target of post {post} can be read any more"
                )));
            }
            let collected_at = Utc::now();
            let mut conn = self.db.tenant(tenant).await?;
            let consumer = &delivery.consumer;
            let message_id = &message.id;
            let samples_ref = &new_samples;
            let stored = conn
                .transaction::<_, HandlerError, _>(async move |conn| {
                    if herald_kit::consumer::hold_tenant_unless_erased(conn, tenant).await? {
                        return Ok(None);
                    }
                    if !inbox::record(conn, consumer, message_id).await? {
                        return Ok(None);
                    }
                    let stored =
                        samples::insert(conn, tenant, post, round, collected_at, samples_ref)
                            .await?;
                    Ok(Some(stored))
                })
                .await?;
            match stored {
                None => tracing::info!("processed concurrently; acknowledged without effect"),
                Some(stored) => tracing::info!(
                    post.id = %post,
                    round,
                    samples = stored,
                    skipped = targets.len() - new_samples.len(),
                    "metrics collected"
                ),
            }
            Ok(())
        })
    }
}
