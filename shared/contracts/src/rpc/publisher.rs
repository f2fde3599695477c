//! publisher: social accounts and posts.

use super::rpc;
use crate::ids::{AccountId, PostId};
use crate::messages::Platform;
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectAccountRequest {
    pub platform: Platform,
    /// The platform's API base URL (a Mastodon instance), e.g. `https://mastodon.social`.
    pub instance_url: String,
    pub access_token: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountView {
    pub id: AccountId,
    pub platform: Platform,
    pub handle: String,
    pub remote_account_id: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePostRequest {
    pub text: String,
    pub scheduled_at: DateTime<Utc>,
    pub account_ids: Vec<AccountId>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetPostRequest {
    pub post_id: PostId,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PostStatus {
    Scheduled,
    Publishing,
    Published,
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TargetState {
    Pending,
    InFlight,
    Done,
    Failed,
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetView {
    pub account_id: AccountId,
    pub platform: Platform,
    pub state: TargetState,
    pub attempts: i32,
    pub remote_id: Option<String>,
    pub remote_url: Option<String>,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PostView {
    pub id: PostId,
    pub text: String,
    pub status: PostStatus,
    pub scheduled_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
    pub targets: Vec<TargetView>,
}

rpc!(
    /// Connect a social account (its token is verified with the platform first).
    ConnectAccount, "publisher", "accounts.connect", true, ConnectAccountRequest, AccountView
);
rpc!(
    /// Create and schedule a post.
    CreatePost, "publisher", "posts.create", true, CreatePostRequest, PostView
);
rpc!(
    /// Read a post with its per-target status.
    GetPost, "publisher", "posts.get", true, GetPostRequest, PostView
);
