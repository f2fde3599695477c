//! The low-frequency safety net behind JetStream scheduled messages. Postgres is the source of
//! truth: a post still `scheduled` well past its time has lost its schedule (a JetStream store
//! lost or restored from an old backup), so it is re-armed with a due message carrying the same
//! message id. A lost schedule delays its post by at most the sweep interval plus the grace,
//! and never duplicates it: the due handler ignores stale generations and settled posts, and
//! claims each target before publishing.
//!
//! The sweep reads posts across tenants (ids and times only), which is why it is not a
//! tenant-scoped repository function and runs on a system-scoped connection; each re-armed
//! due message carries its post's own tenant, and the due handler acts for that tenant only.

use crate::State;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use herald_contracts::messages::PostDue;
use herald_contracts::{Envelope, PostId, TenantId};
use herald_kit::{KitError, Outgoing, outbox};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(QueryableByName)]
struct Overdue {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    id: uuid::Uuid,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    tenant_id: uuid::Uuid,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    generation: i32,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    round: i32,
    #[diesel(sql_type = diesel::sql_types::Timestamptz)]
    scheduled_at: DateTime<Utc>,
}

/// Sweeps every `every` until `stop`.
pub async fn run(state: Arc<State>, every: Duration, grace: Duration, stop: CancellationToken) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.cancelled() => return,
        }
        match sweep_once(&state, grace).await {
            Ok(0) => {}
            Ok(rearmed) => tracing::warn!(rearmed, "re-armed posts whose schedule was lost"),
            Err(error) => tracing::warn!(error = %error, "schedule sweep failed; will retry"),
        }
    }
}

/// Re-arms posts whose current round (the post's time, or a retry round) should have fired
/// more than `grace` ago and has not settled them; returns how many.
pub async fn sweep_once(state: &State, grace: Duration) -> Result<usize, KitError> {
    let mut conn = state
        .db
        .system("schedule sweeper: finds every tenant's overdue posts")
        .await?;
    let rearmed = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            let overdue: Vec<Overdue> = diesel::sql_query(
                "SELECT id, tenant_id, generation, round, scheduled_at FROM posts \
                 WHERE status IN ('scheduled', 'publishing') \
                   AND wake_at < now() - make_interval(secs => $1) \
                 ORDER BY wake_at LIMIT 500 FOR UPDATE SKIP LOCKED",
            )
            .bind::<diesel::sql_types::Double, _>(grace.as_secs_f64())
            .load(conn)
            .await?;
            let due: Vec<Outgoing> = overdue
                .iter()
                .map(|post| {
                    let envelope = Envelope::new(
                        TenantId::from_uuid(post.tenant_id),
                        format!("sweeper:{}", post.id),
                        None,
                        PostDue {
                            post_id: PostId::from_uuid(post.id),
                            generation: post.generation,
                            due_at: post.scheduled_at,
                            round: post.round,
                        },
                    );
                    Outgoing::message(&envelope)
                })
                .collect();
            outbox::enqueue(conn, &due).await
        })
        .await?;
    if rearmed > 0 {
        state.outbox.wake();
        metrics::counter!("herald_schedules_rearmed_total").increment(rearmed as u64);
    }
    Ok(rearmed)
}
