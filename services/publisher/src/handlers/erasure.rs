//! `privacy.erasure-requested` → publisher's part of a GDPR erasure. A tenant that goes:
//! 1. its held schedules (`posts.schedule.<tenant>.*`, one per scheduled post or armed retry
//!    round) are purged from the POSTS stream, so none fires again;
//! 2. in one transaction in the tenant's scope: its dead-letter records, targets, posts and
//!    connected accounts (with their sealed tokens) are deleted, the tenant is marked erased,
//!    and the part is confirmed (`privacy.erasure-confirmed`, outbox).
//!
//! A member's erasure holds nothing personal here (posts and accounts are the tenant's) and is
//! confirmed at once.
//!
//! Not a transactional consumer: the purge is a call to the server, which must not run inside
//! a database transaction that may be re-run. Both steps are idempotent (a purge of nothing, a
//! delete of nothing, a confirmation with the same message id), so a redelivery or a repeated
//! request purges and confirms again without error.
//!
//! Work still in flight for an erased post ends quietly: a `post.due` (a schedule armed after
//! the purge by a round that was running) finds no post and is acknowledged; a round that was
//! calling a platform records nothing (its targets are gone, so its outcomes are not its own)
//! and arms no further round.

use crate::State;
use crate::repo::schema::{accounts, post_targets, posts};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use herald_contracts::Envelope;
use herald_contracts::messages::privacy::{ErasureRequested, ErasureScope};
use herald_kit::futures::future::BoxFuture;
use herald_kit::{Delivery, Handler, HandlerError, outbox};
use std::sync::Arc;

pub const SERVICE: &str = "publisher";

pub struct ErasePublisher(pub Arc<State>);

impl Handler<ErasureRequested> for ErasePublisher {
    fn handle<'a>(
        &'a self,
        message: Envelope<ErasureRequested>,
        _delivery: &'a Delivery,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(erase(self.0.clone(), message))
    }
}

async fn erase(state: Arc<State>, message: Envelope<ErasureRequested>) -> Result<(), HandlerError> {
    let tenant = herald_kit::erasure::part_tenant(&message)?;
    let whole = message.data.scope == ErasureScope::Tenant;
    if whole {
        let stream = state
            .js
            .get_stream(herald_contracts::streams::POSTS)
            .await
            .map_err(HandlerError::retry)?;
        stream
            .purge()
            .filter(format!("posts.schedule.{tenant}.*"))
            .await
            .map_err(HandlerError::retry)?;
    }
    let confirmed = herald_kit::erasure::confirmed(&message, SERVICE);
    let mut conn = state.db.tenant(tenant).await?;
    let t = tenant.as_uuid();
    let erased = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            let mut rows = 0;
            if herald_kit::erasure::begin_part(conn, &message).await? {
                // target_failures go with their targets (ON DELETE CASCADE), targets before
                // the accounts they refer to.
                rows += diesel::delete(post_targets::table.filter(post_targets::tenant_id.eq(t)))
                    .execute(conn)
                    .await?;
                rows += diesel::delete(posts::table.filter(posts::tenant_id.eq(t)))
                    .execute(conn)
                    .await?;
                rows += diesel::delete(accounts::table.filter(accounts::tenant_id.eq(t)))
                    .execute(conn)
                    .await?;
            }
            outbox::enqueue(conn, std::slice::from_ref(&confirmed)).await?;
            Ok(rows)
        })
        .await?;
    state.outbox.wake();
    tracing::info!(rows = erased, whole, "publisher's part of the erasure done");
    Ok(())
}
