//! `POSTS` stream: the publisher's command to re-open a post target that failed for good.
//!
//! It is never published directly. When a target ends `failed`, the transaction that records
//! the failure also writes, through the outbox, a dead letter on
//! `dlq.POSTS.<RETRY_DURABLE>` whose payload is this command; `heraldctl dlq replay` puts it on
//! `posts.retry.<tenant>.<post>`, where the publisher's retry consumer re-opens the target if it
//! is still failed. Kept apart from `posts.rs` because it is a command, not an event.

use crate::envelope::Message;
use crate::ids::{AccountId, PostId, TenantId};
use crate::messages::posts::Platform;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The publisher's durable consumer of retry commands; its dead letters (the failed targets)
/// are on `dlq.POSTS.publisher-retry`.
pub const RETRY_DURABLE: &str = "publisher-retry";

/// Filter for every retry command of every tenant (the publisher's retry consumer).
pub const RETRY_FILTER: &str = "posts.retry.>";

/// The subject a replayed retry command of a post's target arrives on.
pub fn retry_subject(tenant: TenantId, post: PostId) -> String {
    format!("posts.retry.{tenant}.{post}")
}

/// Re-open one failed target of a post: give it a fresh attempt budget and publish it (after
/// reconciling, if its last outcome was never settled). Ignored unless the target is still
/// `failed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PostTargetRetry {
    pub post_id: PostId,
    pub account_id: AccountId,
    pub platform: Platform,
    /// Why the target failed.
    pub reason: String,
    /// Attempts made before it failed.
    pub attempts: i32,
    /// Which failure of this target this is: 1 for the first; a re-opened target that fails
    /// again gets the next number (and a new dead letter).
    pub failure: i32,
}

impl PostTargetRetry {
    /// The dead letter's `Nats-Msg-Id` (and outbox id): one letter per failure of a target.
    pub fn dead_letter_id(&self) -> String {
        format!(
            "post.target.dead:{}:{}:{}",
            self.post_id, self.account_id, self.failure
        )
    }
}

impl Message for PostTargetRetry {
    const TYPE: &'static str = "post.target.retry";
    const VERSION: u32 = 1;
    fn subject(&self, tenant: TenantId) -> String {
        retry_subject(tenant, self.post_id)
    }
    fn message_id(&self) -> String {
        format!(
            "post.target.retry:{}:{}:{}",
            self.post_id, self.account_id, self.failure
        )
    }
}
