//! Mastodon: `POST /api/v1/statuses` with a deterministic `Idempotency-Key`, which the server
//! honours for an hour per account by returning the original status — so resending with the
//! same key is both the retry and the reconciliation within that hour.

use super::{ConnectError, PublishOutcome, RemoteAccount};
use reqwest::StatusCode;
use serde::Deserialize;
use std::time::Duration;

#[derive(Deserialize)]
struct Account {
    id: String,
    acct: String,
}

#[derive(Deserialize)]
struct Status {
    id: String,
    url: Option<String>,
}

pub async fn verify_credentials(
    http: &reqwest::Client,
    instance_url: &str,
    token: &str,
) -> Result<RemoteAccount, ConnectError> {
    let response = http
        .get(format!("{instance_url}/api/v1/accounts/verify_credentials"))
        .bearer_auth(token)
        .send()
        .await
        .map_err(|error| ConnectError::Unreachable(without_url(&error)))?;
    match response.status() {
        status if status.is_success() => {
            let account: Account = response.json().await.map_err(|error| {
                ConnectError::Unreachable(format!("unreadable account: {}", without_url(&error)))
            })?;
            Ok(RemoteAccount {
                id: account.id,
                handle: account.acct,
            })
        }
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            Err(ConnectError::Rejected("the access token is invalid".into()))
        }
        status => Err(ConnectError::Unreachable(format!(
            "unexpected status {status}"
        ))),
    }
}

pub async fn publish(
    http: &reqwest::Client,
    instance_url: &str,
    token: &str,
    text: &str,
    idempotency_key: &str,
) -> PublishOutcome {
    let sent = http
        .post(format!("{instance_url}/api/v1/statuses"))
        .bearer_auth(token)
        .header("Idempotency-Key", idempotency_key)
        .json(&serde_json::json!({ "status": text, "visibility": "public" }))
        .send()
        .await;
    let response = match sent {
        Ok(response) => response,
        // Nothing reached the server when the connection could not be made.
        Err(error) if error.is_connect() => {
            return PublishOutcome::Retryable {
                reason: without_url(&error),
                retry_after: None,
            };
        }
        Err(error) => {
            return PublishOutcome::Ambiguous {
                reason: without_url(&error),
            };
        }
    };
    let status = response.status();
    if status.is_success() {
        return match response.json::<Status>().await {
            Ok(created) => PublishOutcome::Published {
                remote_id: created.id,
                remote_url: created.url,
            },
            Err(error) => PublishOutcome::Ambiguous {
                reason: format!("unreadable response: {}", without_url(&error)),
            },
        };
    }
    match status {
        StatusCode::TOO_MANY_REQUESTS => PublishOutcome::Retryable {
            reason: "rate limited (429)".into(),
            retry_after: retry_after(response.headers()),
        },
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => PublishOutcome::Terminal {
            reason: format!("the platform refused the token ({status})"),
        },
        StatusCode::UNPROCESSABLE_ENTITY => PublishOutcome::Terminal {
            reason: format!(
                "the platform refused the post: {}",
                error_text(response).await
            ),
        },
        status if status.is_server_error() => PublishOutcome::Ambiguous {
            reason: format!("platform error ({status})"),
        },
        status => PublishOutcome::Terminal {
            reason: format!("unexpected status {status}"),
        },
    }
}

/// Mastodon's `X-RateLimit-Reset` is an ISO-8601 time; `Retry-After` may be given too.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    if let Some(seconds) = headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    {
        return Some(Duration::from_secs(seconds));
    }
    let reset = headers.get("x-ratelimit-reset")?.to_str().ok()?;
    let reset = chrono::DateTime::parse_from_rfc3339(reset).ok()?;
    (reset.with_timezone(&chrono::Utc) - chrono::Utc::now())
        .to_std()
        .ok()
}

async fn error_text(response: reqwest::Response) -> String {
    #[derive(Deserialize)]
    struct ErrorBody {
        error: String,
    }
    response
        .json::<ErrorBody>()
        .await
        .map(|body| body.error.chars().take(200).collect())
        .unwrap_or_else(|_| "no reason given".into())
}

/// reqwest errors include the URL; keep logs and stored errors free of it.
fn without_url(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text.replace(url.as_str(), "<url>");
    }
    text
}
