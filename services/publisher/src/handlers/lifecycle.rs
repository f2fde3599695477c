//! `posts.update`, `posts.reschedule` and `posts.cancel`: safe at any moment.
//!
//! Each takes the post's row lock first, as the due handler's claim does, so they are
//! serialised with publishing: an edit or reschedule is accepted only while no target has
//! been attempted (draft or scheduled), and a cancel only while no target is in flight or of
//! unknown outcome. Once a cancel commits, a claim sees `cancelled` and publishes nothing; a
//! reschedule bumps the generation, so the old schedule that may still fire is ignored.

use super::create_post::schedule_messages;
use super::{TxError, get_post::load_view};
use crate::State;
use crate::domain::{PostText, parse_schedule, parse_targets};
use crate::media;
use crate::repo::{accounts, posts};
use chrono::Utc;
use diesel_async::AsyncConnection;
use herald_contracts::messages::posts::schedule_subject;
use herald_contracts::messages::{Platform, PostCancelled};
use herald_contracts::rpc::publisher::{
    CancelPostRequest, PostView, ReschedulePostRequest, UpdatePostRequest,
};
use herald_contracts::rpc::{ErrorCode, RpcError};
use herald_contracts::{AccountId, Envelope, PostId, TenantId};
use herald_kit::{Outgoing, RpcCtx, outbox};
use std::sync::Arc;

fn conflict(message: impl Into<String>) -> TxError {
    TxError::Refused(RpcError::new(ErrorCode::Conflict, message))
}

async fn locked_editable(
    conn: &mut diesel_async::AsyncPgConnection,
    tenant: TenantId,
    post: PostId,
    action: &str,
) -> Result<posts::Post, TxError> {
    let found = posts::lock_post(conn, tenant, post)
        .await?
        .ok_or_else(|| TxError::Refused(RpcError::not_found("post not found")))?;
    if !posts::EDITABLE.contains(&found.status.as_str()) {
        return Err(conflict(format!(
            "a {} post cannot be {action}",
            found.status.replace('_', " ")
        )));
    }
    Ok(found)
}

pub async fn update(
    state: Arc<State>,
    ctx: RpcCtx,
    request: UpdatePostRequest,
) -> Result<PostView, RpcError> {
    let tenant = ctx.tenant()?;
    let text = request
        .text
        .as_deref()
        .map(PostText::parse)
        .transpose()
        .map_err(RpcError::invalid)?;
    let targets = request
        .account_ids
        .as_deref()
        .map(parse_targets)
        .transpose()
        .map_err(RpcError::invalid)?;
    let new_media = match &request.media {
        Some(attachments) => {
            Some(media::resolve(&state.js.client(), &state.media, &ctx, attachments).await?)
        }
        None => None,
    };
    let mut conn = state
        .db
        .tenant(tenant)
        .await
        .map_err(|_| RpcError::unavailable())?;
    conn.transaction::<_, TxError, _>(async |conn| {
        let post = locked_editable(conn, tenant, request.post_id, "edited").await?;
        let platforms: Vec<Platform> = match &targets {
            Some(targets) => {
                let found = accounts::find_many(conn, tenant, targets).await?;
                if found.len() != targets.len() {
                    return Err(TxError::Refused(RpcError::not_found("account not found")));
                }
                found
                    .iter()
                    .filter_map(|a| Platform::parse(&a.platform))
                    .collect()
            }
            None => posts::targets_of(conn, tenant, &[request.post_id])
                .await?
                .iter()
                .filter_map(|(_, platform)| Platform::parse(platform))
                .collect(),
        };
        let media_after = new_media.clone().unwrap_or_else(|| post.media());
        media::check_platforms(&state.media, &media_after, &platforms)
            .map_err(|e| TxError::Refused(RpcError::invalid(e)))?;
        posts::update_post(
            conn,
            tenant,
            request.post_id,
            text.as_ref().map(PostText::as_str),
            targets.as_deref(),
            new_media.as_deref(),
        )
        .await?;
        Ok(())
    })
    .await?;
    tracing::info!(post.id = %request.post_id, "post edited");
    load_view(&mut conn, tenant, request.post_id).await
}

pub async fn reschedule(
    state: Arc<State>,
    ctx: RpcCtx,
    request: ReschedulePostRequest,
) -> Result<PostView, RpcError> {
    let tenant = ctx.tenant()?;
    let due_at = parse_schedule(request.scheduled_at, Utc::now()).map_err(RpcError::invalid)?;
    let post_id = request.post_id;
    let mut conn = state
        .db
        .tenant(tenant)
        .await
        .map_err(|_| RpcError::unavailable())?;
    conn.transaction::<_, TxError, _>(async |conn| {
        locked_editable(conn, tenant, post_id, "rescheduled").await?;
        let generation = posts::reschedule(conn, tenant, post_id, due_at).await?;
        let accounts: Vec<AccountId> = posts::targets_of(conn, tenant, &[post_id])
            .await?
            .into_iter()
            .map(|(t, _)| AccountId::from_uuid(t.account_id))
            .collect();
        // The new schedule replaces the held one (rollup on the subject); if the old one
        // fires anyway, its generation is stale.
        let out = schedule_messages(&ctx, tenant, post_id, generation, due_at, accounts);
        outbox::enqueue(conn, &out).await?;
        Ok(())
    })
    .await?;
    state.outbox.wake();
    tracing::info!(post.id = %post_id, due_at = %due_at, "post rescheduled");
    load_view(&mut conn, tenant, post_id).await
}

pub async fn cancel(
    state: Arc<State>,
    ctx: RpcCtx,
    request: CancelPostRequest,
) -> Result<PostView, RpcError> {
    let tenant = ctx.tenant()?;
    let post_id = request.post_id;
    let mut conn = state
        .db
        .tenant(tenant)
        .await
        .map_err(|_| RpcError::unavailable())?;
    conn.transaction::<_, TxError, _>(async |conn| {
        let post = posts::lock_post(conn, tenant, post_id)
            .await?
            .ok_or_else(|| TxError::Refused(RpcError::not_found("post not found")))?;
        if !matches!(post.status.as_str(), "draft" | "scheduled" | "publishing") {
            return Err(conflict(format!(
                "a {} post cannot be cancelled",
                post.status.replace('_', " ")
            )));
        }
        let targets = posts::targets_of(conn, tenant, &[post_id]).await?;
        if targets
            .iter()
            .any(|(t, _)| t.state == "in_flight" || t.state == "unknown")
        {
            return Err(conflict(
                "a target is being published right now; try again in a few seconds",
            ));
        }
        let published_targets = posts::cancel(conn, tenant, post_id).await?;
        let event = Envelope::new(
            tenant,
            ctx.request_id.clone(),
            Some(format!("request:{}", ctx.request_id)),
            PostCancelled {
                post_id,
                generation: post.generation,
                published_targets: i32::try_from(published_targets).unwrap_or(i32::MAX),
            },
        );
        outbox::enqueue(conn, &[Outgoing::message(&event)]).await?;
        Ok(())
    })
    .await?;
    state.outbox.wake();
    tracing::info!(post.id = %post_id, "post cancelled");
    // The cancel is confirmed by the commit; removing the held schedule only saves a wasted
    // delivery (which would see `cancelled` and do nothing), so a failure here is harmless.
    if let Ok(stream) = state.js.get_stream(herald_contracts::streams::POSTS).await
        && let Err(error) = stream
            .purge()
            .filter(schedule_subject(tenant, post_id))
            .await
    {
        tracing::warn!(error = %error, "could not purge the cancelled post's schedule");
    }
    load_view(&mut conn, tenant, post_id).await
}
