//! `rpc.publisher.posts.get` and `posts.list`: posts with their per-target status.

use super::internal;
use crate::State;
use crate::repo::posts::{self, Post, Target};
use diesel_async::AsyncPgConnection;
use herald_contracts::messages::Platform;
use herald_contracts::rpc::RpcError;
use herald_contracts::rpc::publisher::{
    GetPostRequest, LatenessPolicy, ListPostsRequest, PostList, PostStatus, PostView, TargetState,
    TargetView,
};
use herald_contracts::{AccountId, PostId, TenantId};
use herald_kit::RpcCtx;
use std::sync::Arc;

const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 100;

pub async fn handle(
    state: Arc<State>,
    ctx: RpcCtx,
    request: GetPostRequest,
) -> Result<PostView, RpcError> {
    let tenant = ctx.tenant()?;
    let mut conn = state
        .db
        .tenant(tenant)
        .await
        .map_err(|_| RpcError::unavailable())?;
    load_view(&mut conn, tenant, request.post_id).await
}

pub async fn list(
    state: Arc<State>,
    ctx: RpcCtx,
    request: ListPostsRequest,
) -> Result<PostList, RpcError> {
    let tenant = ctx.tenant()?;
    let limit = request.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(RpcError::invalid(format!(
            "limit: must be between 1 and {MAX_PAGE}"
        )));
    }
    let mut conn = state
        .db
        .tenant(tenant)
        .await
        .map_err(|_| RpcError::unavailable())?;
    let mut found = posts::list_posts(
        &mut conn,
        tenant,
        request.status.as_ref().map(PostStatus::as_str),
        request.before,
        i64::from(limit) + 1,
    )
    .await
    .map_err(internal)?;
    let more = found.len() > limit as usize;
    found.truncate(limit as usize);
    let ids: Vec<PostId> = found.iter().map(|p| PostId::from_uuid(p.id)).collect();
    let mut targets = posts::targets_of(&mut conn, tenant, &ids)
        .await
        .map_err(internal)?;
    let next = more.then(|| ids.last().copied()).flatten();
    let posts = found
        .into_iter()
        .map(|post| {
            let (mine, rest): (Vec<_>, Vec<_>) =
                targets.drain(..).partition(|(t, _)| t.post_id == post.id);
            targets = rest;
            view(post, mine)
        })
        .collect();
    Ok(PostList { posts, next })
}

pub(crate) async fn load_view(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    post: PostId,
) -> Result<PostView, RpcError> {
    let (post, targets) = posts::find_post(conn, tenant, post)
        .await
        .map_err(internal)?
        .ok_or_else(|| RpcError::not_found("post not found"))?;
    Ok(view(post, targets))
}

pub(crate) fn view(post: Post, targets: Vec<(Target, String)>) -> PostView {
    let media = post.media();
    PostView {
        media,
        lateness: post.max_late_secs.map(|secs| LatenessPolicy {
            max_late_secs: secs.max(0) as u32,
        }),
        id: PostId::from_uuid(post.id),
        text: post.text,
        status: PostStatus::parse(&post.status).unwrap_or(PostStatus::Scheduled),
        scheduled_at: post.scheduled_at,
        created_at: post.created_at,
        published_at: post.published_at,
        cancelled_at: post.cancelled_at,
        targets: targets
            .into_iter()
            .map(|(target, platform)| TargetView {
                account_id: AccountId::from_uuid(target.account_id),
                platform: Platform::parse(&platform).unwrap_or_default(),
                state: TargetState::parse(&target.state).unwrap_or(TargetState::Pending),
                attempts: target.attempts,
                remote_id: target.remote_id,
                remote_url: target.remote_url,
                last_error: target.last_error,
                next_attempt_at: target.not_before,
            })
            .collect(),
    }
}
