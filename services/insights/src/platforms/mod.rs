//! Reading a published post's engagement from its platform. Reads only: a fetch repeated by a
//! retried message changes nothing anywhere.

pub mod mastodon;

use herald_contracts::messages::Platform;
use std::time::Instant;

/// Engagement counts as Herald names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Engagement {
    pub likes: i64,
    pub reposts: i64,
    pub replies: i64,
}

/// Why a target's numbers could not be read, classified for the consumer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The post is no longer there (deleted, 404/410): nothing to store, ever.
    #[error("gone: {0}")]
    Gone(String),
    /// The platform refuses the request for good (other 4xx, unusable address).
    #[error("unusable: {0}")]
    Unusable(String),
    /// Worth trying again later: connection trouble, timeouts, 5xx, 429, unreadable answer.
    #[error("retryable: {0}")]
    Retry(String),
}

/// The engagement of `remote_id` on `instance_url`.
pub async fn fetch(
    client: &reqwest::Client,
    platform: Platform,
    instance_url: &str,
    remote_id: &str,
) -> Result<Engagement, FetchError> {
    let started = Instant::now();
    let result = match platform {
        Platform::Mastodon => mastodon::fetch(client, instance_url, remote_id).await,
        // Reading these needs the account's token, which only the publisher holds; until
        // insights asks the publisher for it, their posts are tracked without numbers.
        other => Err(FetchError::Unusable(format!(
            "metrics for {other} are not collected yet"
        ))),
    };
    let outcome = match &result {
        Ok(_) => "ok",
        Err(FetchError::Gone(_)) => "gone",
        Err(FetchError::Unusable(_)) => "unusable",
        Err(FetchError::Retry(_)) => "retry",
    };
    metrics::histogram!("herald_insights_fetch_seconds", "platform" => platform.as_str(), "outcome" => outcome)
        .record(started.elapsed().as_secs_f64());
    result
}

/// Classifies an HTTP status that is not a success.
pub fn classify_status(status: reqwest::StatusCode) -> FetchError {
    let reason = format!("status {}", status.as_u16());
    match status.as_u16() {
        404 | 410 => FetchError::Gone(reason),
        429 => FetchError::Retry(reason),
        500..=599 => FetchError::Retry(reason),
        _ => FetchError::Unusable(reason),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;

    #[test]
    fn statuses_are_classified() {
        assert!(matches!(
            classify_status(StatusCode::NOT_FOUND),
            FetchError::Gone(_)
        ));
        assert!(matches!(
            classify_status(StatusCode::GONE),
            FetchError::Gone(_)
        ));
        assert!(matches!(
            classify_status(StatusCode::TOO_MANY_REQUESTS),
            FetchError::Retry(_)
        ));
        assert!(matches!(
            classify_status(StatusCode::BAD_GATEWAY),
            FetchError::Retry(_)
        ));
        assert!(matches!(
            classify_status(StatusCode::FORBIDDEN),
            FetchError::Unusable(_)
        ));
    }
}
