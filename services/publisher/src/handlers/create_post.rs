//! `rpc.publisher.posts.create`: store the post and its targets and, in the same transaction,
//! the JetStream scheduled message that will fire `posts.due.<tenant>.<post>` at its time and
//! the `post.scheduled` event. Without a time the post is a draft: nothing is armed.

use super::{TxError, get_post::load_view, internal};
use crate::State;
use crate::domain::{PostText, parse_schedule, parse_targets};
use crate::media;
use crate::repo::{accounts, posts};
use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection;
use herald_contracts::messages::posts::schedule_subject;
use herald_contracts::messages::{Platform, PostDue, PostScheduled};
use herald_contracts::rpc::RpcError;
use herald_contracts::rpc::publisher::{CreatePostRequest, PostView};
use herald_contracts::{AccountId, Envelope, PostId, TenantId};
use herald_kit::{Outgoing, RpcCtx};
use std::sync::Arc;

/// The schedule and the `post.scheduled` event of a post's `generation` at `due_at`.
pub(crate) fn schedule_messages(
    ctx: &RpcCtx,
    tenant: TenantId,
    post_id: PostId,
    generation: i32,
    due_at: DateTime<Utc>,
    account_ids: Vec<AccountId>,
) -> Vec<Outgoing> {
    let cause = Some(format!("request:{}", ctx.request_id));
    let due = Envelope::new(
        tenant,
        ctx.request_id.clone(),
        cause.clone(),
        PostDue {
            post_id,
            generation,
            due_at,
            round: 0,
        },
    );
    let scheduled = Envelope::new(
        tenant,
        ctx.request_id.clone(),
        cause,
        PostScheduled {
            post_id,
            generation,
            scheduled_at: due_at,
            account_ids,
        },
    );
    vec![
        Outgoing::schedule(&due, schedule_subject(tenant, post_id), due_at),
        Outgoing::message(&scheduled),
    ]
}

pub async fn handle(
    state: Arc<State>,
    ctx: RpcCtx,
    request: CreatePostRequest,
) -> Result<PostView, RpcError> {
    let tenant = ctx.tenant()?;
    let text = PostText::parse(&request.text).map_err(RpcError::invalid)?;
    let due_at = request
        .scheduled_at
        .map(|at| parse_schedule(at, Utc::now()))
        .transpose()
        .map_err(RpcError::invalid)?;
    let targets = parse_targets(&request.account_ids).map_err(RpcError::invalid)?;
    let media = media::resolve(&state.js.client(), &state.media, &ctx, &request.media).await?;
    let max_late_secs = request.lateness.map(|l| l.max_late_secs);
    let post_id = PostId::new();
    let out = due_at
        .map(|at| schedule_messages(&ctx, tenant, post_id, 1, at, targets.clone()))
        .unwrap_or_default();
    let mut conn = state
        .db
        .tenant(tenant)
        .await
        .map_err(|_| RpcError::unavailable())?;
    conn.transaction::<_, TxError, _>(async |conn| {
        let found = accounts::find_many(conn, tenant, &targets).await?;
        if found.len() != targets.len() {
            return Err(TxError::Refused(RpcError::not_found("account not found")));
        }
        let platforms: Vec<Platform> = found
            .iter()
            .filter_map(|a| Platform::parse(&a.platform))
            .collect();
        media::check_platforms(&state.media, &media, &platforms)
            .map_err(|e| TxError::Refused(RpcError::invalid(e)))?;
        let new = posts::NewPost {
            text: text.as_str(),
            scheduled_at: due_at,
            media: &media,
            max_late_secs,
        };
        posts::insert_post(conn, tenant, post_id, new, &targets).await?;
        herald_kit::outbox::enqueue(conn, &out).await?;
        Ok(())
    })
    .await?;
    state.outbox.wake();
    match due_at {
        Some(at) => {
            tracing::info!(post.id = %post_id, due_at = %at, targets = targets.len(), "post scheduled")
        }
        None => tracing::info!(post.id = %post_id, targets = targets.len(), "draft created"),
    }
    load_view(&mut conn, tenant, post_id)
        .await
        .map_err(|error| {
            if error.code == herald_contracts::rpc::ErrorCode::NotFound {
                internal("post vanished after commit")
            } else {
                error
            }
        })
}
