//! `POSTS` stream: held schedules, due posts and publish outcomes. Producer: publisher.

use crate::envelope::Message;
use crate::ids::{AccountId, PostId, TenantId};
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A social network Herald publishes to.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
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

/// A post's time has come. Published as a JetStream scheduled message; `generation` grows with
/// every reschedule so an old schedule that still fires is recognised as stale.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PostDue {
    pub post_id: PostId,
    pub generation: i32,
    pub due_at: DateTime<Utc>,
}

impl Message for PostDue {
    const TYPE: &'static str = "post.due";
    const VERSION: u32 = 1;
    fn subject(&self, tenant: TenantId) -> String {
        due_subject(tenant, self.post_id)
    }
    fn message_id(&self) -> String {
        format!("post.due:{}:{}", self.post_id, self.generation)
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

/// Every target of a post has been published.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PostPublished {
    pub post_id: PostId,
    pub targets: Vec<PublishedTarget>,
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
