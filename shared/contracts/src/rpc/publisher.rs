//! publisher: social accounts and posts.

use super::rpc;
use crate::ids::{AccountId, PostId, RenderId};
use crate::messages::Platform;
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Credentials for one platform account; which fields a platform needs:
/// - mastodon: `instance_url`, `access_token`;
/// - bluesky: `identifier` (handle or DID) and `password` (an app password, used once to open a
///   session and never stored);
/// - x: `access_token`, optional `refresh_token` and `expires_in` (OAuth 2.0);
/// - linkedin: `access_token`, optional `account_ref` (an organization URN to post as);
/// - facebook: `access_token` (a Page token) and `account_ref` (the page id);
/// - instagram: `access_token` and `account_ref` (the Instagram user id);
/// - threads: `access_token`, optional `refresh_token`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectAccountRequest {
    pub platform: Platform,
    /// The Mastodon instance, e.g. `https://mastodon.social` (other platforms use the
    /// configured API endpoint).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// Seconds until `access_token` expires, as the platform's OAuth response said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_ref: Option<String>,
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

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListAccountsRequest {}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountList {
    pub accounts: Vec<AccountView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DisconnectAccountRequest {
    pub account_id: AccountId,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Disconnected {
    pub account_id: AccountId,
    /// Targets of unpublished posts that will now fail (the account is gone).
    pub open_targets: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePostRequest {
    pub text: String,
    /// When to publish; absent makes a draft (schedule it later with reschedule).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_at: Option<DateTime<Utc>>,
    pub account_ids: Vec<AccountId>,
    /// Images from the renderer, in order (at most 4; Instagram needs exactly one, Threads
    /// takes at most one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub media: Vec<MediaAttachment>,
    /// What to do when the post comes due later than planned (after an outage): absent
    /// publishes anyway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lateness: Option<LatenessPolicy>,
}

/// A completed render of the caller's tenant, attached to a post.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MediaAttachment {
    pub render_id: RenderId,
    /// Alternative text for screen readers (at most 1,000 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alt_text: Option<String>,
}

/// An attached image as the post holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MediaView {
    pub render_id: RenderId,
    pub alt_text: Option<String>,
    /// SHA-256 of the image bytes (the asset's content address).
    pub content_hash: String,
}

/// Hold the post for a person instead of publishing it when it comes due more than
/// `max_late_secs` after its scheduled time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LatenessPolicy {
    pub max_late_secs: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetPostRequest {
    pub post_id: PostId,
}

/// Edit a draft or scheduled post: any field left out stays as it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePostRequest {
    pub post_id: PostId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_ids: Option<Vec<AccountId>>,
    /// Replaces the attached images (an empty list removes them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<Vec<MediaAttachment>>,
}

/// Schedule a draft, or move a scheduled post to another time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReschedulePostRequest {
    pub post_id: PostId,
    pub scheduled_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelPostRequest {
    pub post_id: PostId,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListPostsRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<PostStatus>,
    /// Page size, 1 to 100 (default 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// The `next` cursor of the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<PostId>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PostList {
    pub posts: Vec<PostView>,
    /// Pass as `before` for the next (older) page; absent on the last page.
    pub next: Option<PostId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PostStatus {
    Draft,
    Scheduled,
    /// It came due later than its lateness policy allows: nothing was published; a person
    /// reschedules it (to now, to publish anyway) or cancels it.
    Held,
    Publishing,
    Published,
    PartiallyPublished,
    Failed,
    Cancelled,
}

impl PostStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            PostStatus::Draft => "draft",
            PostStatus::Scheduled => "scheduled",
            PostStatus::Held => "held",
            PostStatus::Publishing => "publishing",
            PostStatus::Published => "published",
            PostStatus::PartiallyPublished => "partially_published",
            PostStatus::Failed => "failed",
            PostStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [
            PostStatus::Draft,
            PostStatus::Scheduled,
            PostStatus::Held,
            PostStatus::Publishing,
            PostStatus::Published,
            PostStatus::PartiallyPublished,
            PostStatus::Failed,
            PostStatus::Cancelled,
        ]
        .into_iter()
        .find(|s| s.as_str() == value)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TargetState {
    Pending,
    InFlight,
    Done,
    Failed,
    Unknown,
    NeedsAttention,
    Cancelled,
}

impl TargetState {
    pub fn as_str(&self) -> &'static str {
        match self {
            TargetState::Pending => "pending",
            TargetState::InFlight => "in_flight",
            TargetState::Done => "done",
            TargetState::Failed => "failed",
            TargetState::Unknown => "unknown",
            TargetState::NeedsAttention => "needs_attention",
            TargetState::Cancelled => "cancelled",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [
            TargetState::Pending,
            TargetState::InFlight,
            TargetState::Done,
            TargetState::Failed,
            TargetState::Unknown,
            TargetState::NeedsAttention,
            TargetState::Cancelled,
        ]
        .into_iter()
        .find(|s| s.as_str() == value)
    }
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
    /// No attempt before this time (backoff, rate limit, open circuit).
    pub next_attempt_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PostView {
    pub id: PostId,
    pub text: String,
    pub status: PostStatus,
    /// Absent for a draft.
    pub scheduled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub targets: Vec<TargetView>,
    pub media: Vec<MediaView>,
    pub lateness: Option<LatenessPolicy>,
}

rpc!(
    /// Connect a social account (its credentials are verified with the platform first).
    ConnectAccount, "publisher", "accounts.connect", true, ConnectAccountRequest, AccountView
);
rpc!(
    /// The tenant's connected accounts.
    ListAccounts, "publisher", "accounts.list", true, ListAccountsRequest, AccountList
);
rpc!(
    /// Disconnect an account: its tokens are erased; its unpublished targets fail.
    DisconnectAccount, "publisher", "accounts.disconnect", true, DisconnectAccountRequest, Disconnected
);
rpc!(
    /// Create a post: scheduled when it has a time, otherwise a draft.
    CreatePost, "publisher", "posts.create", true, CreatePostRequest, PostView
);
rpc!(
    /// Read a post with its per-target status.
    GetPost, "publisher", "posts.get", true, GetPostRequest, PostView
);
rpc!(
    /// Edit the text or targets of a draft or scheduled post.
    UpdatePost, "publisher", "posts.update", true, UpdatePostRequest, PostView
);
rpc!(
    /// Schedule a draft or move a scheduled post.
    ReschedulePost, "publisher", "posts.reschedule", true, ReschedulePostRequest, PostView
);
rpc!(
    /// Cancel a post: no target is published after a confirmed cancel.
    CancelPost, "publisher", "posts.cancel", true, CancelPostRequest, PostView
);
rpc!(
    /// The tenant's posts, newest first.
    ListPosts, "publisher", "posts.list", true, ListPostsRequest, PostList
);
