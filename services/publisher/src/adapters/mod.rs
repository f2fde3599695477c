//! Platform adapters. Each classifies every outcome of a publish call as success, retryable
//! (known not created), terminal, or ambiguous (may have been created: reconcile first).

pub mod mastodon;

use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub struct RemoteAccount {
    pub id: String,
    pub handle: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PublishOutcome {
    Published {
        remote_id: String,
        remote_url: Option<String>,
    },
    /// The platform did not create the post (rate limit, refused before processing).
    Retryable {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// Retrying cannot help (bad token, content refused).
    Terminal { reason: String },
    /// The request may have been processed (timeout, dropped connection, 5xx).
    Ambiguous { reason: String },
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("the platform refused the token: {0}")]
    Rejected(String),
    #[error("the platform could not be reached: {0}")]
    Unreachable(String),
}
