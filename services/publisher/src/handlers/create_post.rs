//! `rpc.publisher.posts.create`: store the post and its targets and, in the same transaction,
//! the JetStream scheduled message that will fire `posts.due.<tenant>.<post>` at its time.

use super::{TxError, get_post::load_view, internal};
use crate::State;
use crate::domain::{PostText, parse_schedule, parse_targets};
use crate::repo::{accounts, posts};
use chrono::Utc;
use diesel_async::AsyncConnection;
use herald_contracts::messages::PostDue;
use herald_contracts::messages::posts::schedule_subject;
use herald_contracts::rpc::RpcError;
use herald_contracts::rpc::publisher::{CreatePostRequest, PostView};
use herald_contracts::{Envelope, PostId};
use herald_kit::{Outgoing, RpcCtx, outbox};
use std::sync::Arc;

pub async fn handle(
    state: Arc<State>,
    ctx: RpcCtx,
    request: CreatePostRequest,
) -> Result<PostView, RpcError> {
    let tenant = ctx.tenant()?;
    let text = PostText::parse(&request.text).map_err(RpcError::invalid)?;
    let due_at = parse_schedule(request.scheduled_at, Utc::now()).map_err(RpcError::invalid)?;
    let targets = parse_targets(&request.account_ids).map_err(RpcError::invalid)?;
    let post_id = PostId::new();
    let due = Envelope::new(
        tenant,
        ctx.request_id.clone(),
        Some(format!("request:{}", ctx.request_id)),
        PostDue {
            post_id,
            generation: 1,
            due_at,
        },
    );
    let schedule = Outgoing::schedule(&due, schedule_subject(tenant, post_id), due_at);
    let mut conn = state.db.conn().await.map_err(|_| RpcError::unavailable())?;
    conn.transaction::<_, TxError, _>(async |conn| {
        let found = accounts::find_many(conn, tenant, &targets).await?;
        if found.len() != targets.len() {
            return Err(TxError::Refused(RpcError::not_found("account not found")));
        }
        posts::insert_post(conn, tenant, post_id, text.as_str(), due_at, &targets).await?;
        outbox::enqueue(conn, &[schedule]).await?;
        Ok(())
    })
    .await?;
    state.outbox.wake();
    tracing::info!(post.id = %post_id, due_at = %due_at, targets = targets.len(), "post scheduled");
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
