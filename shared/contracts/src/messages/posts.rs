//! `POSTS` stream: held schedules, due posts and publish outcomes. Producer: publisher.

use crate::envelope::Message;
use crate::ids::{AccountId, PostId, TenantId};
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A social network Herald publishes to.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    #[default]
    Mastodon,
    Bluesky,
    X,
    Linkedin,
    Facebook,
    Instagram,
    Threads,
}

impl Platform {
    pub const ALL: [Platform; 7] = [
        Platform::Mastodon,
        Platform::Bluesky,
        Platform::X,
        Platform::Linkedin,
        Platform::Facebook,
        Platform::Instagram,
        Platform::Threads,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Platform::Mastodon => "mastodon",
            Platform::Bluesky => "bluesky",
            Platform::X => "x",
            Platform::Linkedin => "linkedin",
            Platform::Facebook => "facebook",
            Platform::Instagram => "instagram",
            Platform::Threads => "threads",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == value)
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The subject a held schedule for a post lives on (at most one message per subject).
pub fn schedule_subject(tenant: TenantId, post: PostId) -> String {
    format!("posts.schedule.{tenant}.{post}")
}

/// The subject a post's schedule fires onto when it is due.
pub fn due_subject(tenant: TenantId, post: PostId) -> String {
    format!("posts.due.{tenant}.{post}")
}

/// Filter for every due post of every tenant (the publisher's due consumer).
pub const DUE_FILTER: &str = "posts.due.>";
/// Filter for every `post.published` of every tenant.
pub const PUBLISHED_FILTER: &str = "posts.published.>";
/// Filter for every `post.target.published` of every tenant.
pub const TARGET_PUBLISHED_FILTER: &str = "posts.target.published.>";
/// Filter for every `post.target.failed` of every tenant.
pub const TARGET_FAILED_FILTER: &str = "posts.target.failed.>";
/// Filter for every `post.held` of every tenant.
pub const HELD_FILTER: &str = "posts.held.>";

/// A post's time has come. Published as a JetStream scheduled message; `generation` grows with
/// every reschedule so an old schedule that still fires is recognised as stale.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PostDue {
    pub post_id: PostId,
    pub generation: i32,
    /// When the post is due (the first round's time, kept by every retry round).
    pub due_at: DateTime<Utc>,
    /// 0 for the post's time; each retry round (a target waiting for backoff, a rate limit
    /// or an open circuit) arms the next one. Only the post's current round is acted on.
    #[serde(default)]
    pub round: i32,
}

impl Message for PostDue {
    const TYPE: &'static str = "post.due";
    const VERSION: u32 = 1;
    fn subject(&self, tenant: TenantId) -> String {
        due_subject(tenant, self.post_id)
    }
    fn message_id(&self) -> String {
        if self.round == 0 {
            format!("post.due:{}:{}", self.post_id, self.generation)
        } else {
            format!(
                "post.due:{}:{}:{}",
                self.post_id, self.generation, self.round
            )
        }
    }
}

/// One target (account) of a post that reached its platform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishedTarget {
    pub account_id: AccountId,
    pub platform: Platform,
    /// The platform API's base URL for this account (e.g. the Mastodon instance).
    pub instance_url: String,
    /// The platform's id of the created post.
    pub remote_id: String,
    pub remote_url: Option<String>,
    pub published_at: DateTime<Utc>,
}

/// Every target of a post has settled and at least one reached its platform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PostPublished {
    pub post_id: PostId,
    /// The targets that were published (failed ones had their own `post.target.failed`).
    pub targets: Vec<PublishedTarget>,
    /// True when some targets failed or were cancelled (`partially_published`).
    #[serde(default)]
    pub partial: bool,
}

impl Message for PostPublished {
    const TYPE: &'static str = "post.published";
    const VERSION: u32 = 1;
    fn subject(&self, tenant: TenantId) -> String {
        format!("posts.published.{tenant}.{}", self.post_id)
    }
    fn message_id(&self) -> String {
        format!("post.published:{}", self.post_id)
    }
}

/// A post was scheduled (created with a time, or rescheduled: `generation` grows).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PostScheduled {
    pub post_id: PostId,
    pub generation: i32,
    pub scheduled_at: DateTime<Utc>,
    pub account_ids: Vec<AccountId>,
}

impl Message for PostScheduled {
    const TYPE: &'static str = "post.scheduled";
    const VERSION: u32 = 1;
    fn subject(&self, tenant: TenantId) -> String {
        format!("posts.scheduled.{tenant}.{}", self.post_id)
    }
    fn message_id(&self) -> String {
        format!("post.scheduled:{}:{}", self.post_id, self.generation)
    }
}

/// One target of a post reached its platform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PostTargetPublished {
    pub post_id: PostId,
    pub target: PublishedTarget,
}

impl Message for PostTargetPublished {
    const TYPE: &'static str = "post.target.published";
    const VERSION: u32 = 1;
    fn subject(&self, tenant: TenantId) -> String {
        format!("posts.target.published.{tenant}.{}", self.post_id)
    }
    fn message_id(&self) -> String {
        format!(
            "post.target.published:{}:{}",
            self.post_id, self.target.account_id
        )
    }
}

/// One target of a post will not be published by Herald: it failed for good, or it needs a
/// person (its outcome cannot be verified, so it is not retried blindly).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PostTargetFailed {
    pub post_id: PostId,
    pub account_id: AccountId,
    pub platform: Platform,
    pub reason: String,
    /// The post may or may not be on the platform: a person must look.
    pub needs_attention: bool,
    pub attempts: i32,
}

impl Message for PostTargetFailed {
    const TYPE: &'static str = "post.target.failed";
    const VERSION: u32 = 1;
    fn subject(&self, tenant: TenantId) -> String {
        format!("posts.target.failed.{tenant}.{}", self.post_id)
    }
    fn message_id(&self) -> String {
        format!("post.target.failed:{}:{}", self.post_id, self.account_id)
    }
}

/// A post was cancelled before all its targets were published.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PostCancelled {
    pub post_id: PostId,
    pub generation: i32,
    /// Targets already published before the cancel (they stay published).
    pub published_targets: i32,
}

impl Message for PostCancelled {
    const TYPE: &'static str = "post.cancelled";
    const VERSION: u32 = 1;
    fn subject(&self, tenant: TenantId) -> String {
        format!("posts.cancelled.{tenant}.{}", self.post_id)
    }
    fn message_id(&self) -> String {
        format!("post.cancelled:{}", self.post_id)
    }
}

/// A post came due later than its lateness policy allows (after an outage, say): nothing was
/// published and a person must decide (reschedule to publish, or cancel).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PostHeld {
    pub post_id: PostId,
    pub generation: i32,
    pub scheduled_at: DateTime<Utc>,
    /// How late the post was when it was held, in seconds.
    pub late_by_secs: i64,
    pub max_late_secs: u32,
}

impl Message for PostHeld {
    const TYPE: &'static str = "post.held";
    const VERSION: u32 = 1;
    fn subject(&self, tenant: TenantId) -> String {
        format!("posts.held.{tenant}.{}", self.post_id)
    }
    fn message_id(&self) -> String {
        format!("post.held:{}:{}", self.post_id, self.generation)
    }
}
