//! `rpc.publisher.posts.get`: a post with its per-target status.

use super::internal;
use crate::State;
use crate::repo::posts::{self, Post, Target};
use diesel_async::AsyncPgConnection;
use herald_contracts::messages::Platform;
use herald_contracts::rpc::RpcError;
use herald_contracts::rpc::publisher::{
    GetPostRequest, PostStatus, PostView, TargetState, TargetView,
};
use herald_contracts::{AccountId, PostId, TenantId};
use herald_kit::RpcCtx;
use std::sync::Arc;

pub async fn handle(
    state: Arc<State>,
    ctx: RpcCtx,
    request: GetPostRequest,
) -> Result<PostView, RpcError> {
    let tenant = ctx.tenant()?;
    let mut conn = state.db.conn().await.map_err(|_| RpcError::unavailable())?;
    load_view(&mut conn, tenant, request.post_id).await
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

fn view(post: Post, targets: Vec<(Target, String)>) -> PostView {
    PostView {
        id: PostId::from_uuid(post.id),
        text: post.text,
        status: match post.status.as_str() {
            "publishing" => PostStatus::Publishing,
            "published" => PostStatus::Published,
            "failed" => PostStatus::Failed,
            _ => PostStatus::Scheduled,
        },
        scheduled_at: post.scheduled_at.unwrap_or(post.created_at),
        created_at: post.created_at,
        published_at: post.published_at,
        targets: targets
            .into_iter()
            .map(|(target, platform)| TargetView {
                account_id: AccountId::from_uuid(target.account_id),
                platform: Platform::parse(&platform).unwrap_or(Platform::Mastodon),
                state: match target.state.as_str() {
                    "in_flight" => TargetState::InFlight,
                    "done" => TargetState::Done,
                    "failed" => TargetState::Failed,
                    "unknown" => TargetState::Unknown,
                    _ => TargetState::Pending,
                },
                attempts: target.attempts,
                remote_id: target.remote_id,
                remote_url: target.remote_url,
                last_error: target.last_error,
            })
            .collect(),
    }
}
