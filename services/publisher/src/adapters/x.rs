//! X (API v2): `POST /2/tweets` has no idempotency key, so every outcome that may have created
//! the tweet is ambiguous and is settled by looking for it: the account's tweets since
//! five minutes before the first attempt (`GET /2/users/:id/tweets?start_time=`), matched on
//! the text we sent (X shows it with `t.co` links, expanded back from `entities.urls`, and
//! `&`, `<`, `>` escaped).
//!
//! X refuses a text its author posted recently with 403 "duplicate content". After an
//! ambiguous attempt that is the earlier attempt having worked, so publish looks the tweet up
//! itself and reports it as published; with no such tweet since the first attempt the text
//! duplicates an older post and the target fails. A token without `tweet.read` cannot look
//! anything up: reconciliation is then unverifiable and a person decides.
//!
//! Images are uploaded (and their alt text set) before the tweet, which attaches their ids;
//! see `media.rs`.

mod lookup;
mod media;

use super::util::{self, transport_outcome, without_url};
use super::{
    ConnectError, ConnectInput, Connected, Creds, PlatformAdapter, PlatformConfig, Publication,
    PublishOutcome, Reconciled, RefreshError, Reply, Tokens,
};
use chrono::Utc;
use herald_contracts::messages::Platform;
use herald_kit::Secret;
use herald_kit::futures::future::BoxFuture;
use lookup::find_by_text;
use reqwest::StatusCode;
use serde::Deserialize;

/// Where people read tweets; `i/web` works without knowing the username.
const WEB_STATUS: &str = "https://x.com/i/web/status";
const DUPLICATE_CONTENT: &str = "duplicate content";

#[derive(Deserialize)]
struct Data<T> {
    data: T,
}

#[derive(Deserialize)]
struct User {
    id: String,
    username: String,
}

#[derive(Deserialize)]
struct Created {
    id: String,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    refresh_token: Option<String>,
    expires_in: Option<i64>,
}

/// X's error bodies: a problem (`title`, `detail`), parameter `errors`, or OAuth's
/// `error_description`; all optional.
#[derive(Deserialize, Default)]
struct Problem {
    title: Option<String>,
    detail: Option<String>,
    #[serde(default)]
    errors: Vec<ProblemItem>,
    error_description: Option<String>,
}

#[derive(Deserialize)]
struct ProblemItem {
    message: Option<String>,
}

impl Problem {
    fn describe(&self) -> String {
        let text = self
            .errors
            .iter()
            .find_map(|e| e.message.clone())
            .or_else(|| self.detail.clone())
            .or_else(|| self.error_description.clone())
            .or_else(|| self.title.clone())
            .unwrap_or_else(|| "no reason given".into());
        util::short(&text, 200)
    }
}

async fn problem(response: reqwest::Response) -> Problem {
    response.json().await.unwrap_or_default()
}

pub struct X {
    http: reqwest::Client,
    base_url: String,
    client_id: Option<String>,
    client_secret: Option<Secret>,
}

impl X {
    pub fn new(http: reqwest::Client, config: &PlatformConfig) -> Self {
        Self {
            http,
            base_url: config.x_url.clone(),
            client_id: config.x_client_id.clone(),
            client_secret: config.x_client_secret.clone(),
        }
    }
}

impl PlatformAdapter for X {
    fn platform(&self) -> Platform {
        Platform::X
    }

    fn connect<'a>(
        &'a self,
        input: &'a ConnectInput,
    ) -> BoxFuture<'a, Result<Connected, ConnectError>> {
        Box::pin(async move {
            let token = input
                .access_token
                .as_ref()
                .filter(|t| !t.expose().is_empty())
                .ok_or_else(|| ConnectError::Rejected("access_token: required".into()))?;
            let base = match input.base_url.trim_end_matches('/') {
                "" => self.base_url.as_str(),
                given => given,
            };
            let user = users_me(&self.http, base, token).await?;
            Ok(Connected {
                remote_account_id: user.id,
                handle: user.username,
                tokens: Tokens {
                    access_token: token.clone(),
                    refresh_token: input.refresh_token.clone(),
                    expires_at: input
                        .expires_in
                        .map(|seconds| Utc::now() + chrono::Duration::seconds(seconds)),
                },
            })
        })
    }

    fn refresh<'a>(
        &'a self,
        creds: &'a Creds,
        refresh_token: &'a Secret,
    ) -> BoxFuture<'a, Result<Tokens, RefreshError>> {
        Box::pin(self.refresh_tokens(creds, refresh_token))
    }

    fn publish<'a>(
        &'a self,
        creds: &'a Creds,
        post: &'a Publication,
    ) -> BoxFuture<'a, Reply<PublishOutcome>> {
        Box::pin(publish(&self.http, creds, post))
    }

    fn reconcile<'a>(
        &'a self,
        creds: &'a Creds,
        post: &'a Publication,
    ) -> BoxFuture<'a, Reply<Reconciled>> {
        Box::pin(find_by_text(&self.http, creds, post))
    }
}

async fn users_me(
    http: &reqwest::Client,
    base: &str,
    token: &Secret,
) -> Result<User, ConnectError> {
    let response = http
        .get(format!("{base}/2/users/me"))
        .bearer_auth(token.expose())
        .send()
        .await
        .map_err(|error| ConnectError::Unreachable(without_url(&error)))?;
    match response.status() {
        status if status.is_success() => response
            .json::<Data<User>>()
            .await
            .map(|body| body.data)
            .map_err(|error| {
                ConnectError::Unreachable(format!("unreadable user: {}", without_url(&error)))
            }),
        StatusCode::UNAUTHORIZED => Err(ConnectError::Rejected(
            "access_token: the platform refused it".into(),
        )),
        StatusCode::FORBIDDEN => Err(ConnectError::Rejected(
            "access_token: lacks the tweet.read and users.read scopes".into(),
        )),
        StatusCode::TOO_MANY_REQUESTS => {
            Err(ConnectError::Unreachable("rate limited (429)".into()))
        }
        status => Err(ConnectError::Unreachable(format!(
            "unexpected status {status}"
        ))),
    }
}

impl X {
    /// `POST /2/oauth2/token` with the refresh grant; confidential clients authenticate with
    /// Basic, public ones send only their `client_id`.
    async fn refresh_tokens(
        &self,
        creds: &Creds,
        refresh_token: &Secret,
    ) -> Result<Tokens, RefreshError> {
        let client_id = self.client_id.as_deref().ok_or_else(|| {
            RefreshError::Unavailable("no X OAuth client id is configured".into())
        })?;
        let mut request = self
            .http
            .post(format!("{}/2/oauth2/token", creds.base_url))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token.expose()),
                ("client_id", client_id),
            ]);
        if let Some(secret) = &self.client_secret {
            request = request.basic_auth(client_id, Some(secret.expose()));
        }
        let response = request
            .send()
            .await
            .map_err(|error| RefreshError::Unavailable(without_url(&error)))?;
        let status = response.status();
        if status.is_success() {
            let tokens: TokenResponse = response.json().await.map_err(|error| {
                RefreshError::Unavailable(format!("unreadable tokens: {}", without_url(&error)))
            })?;
            return Ok(Tokens {
                access_token: Secret::new(tokens.access_token),
                // Absent means "keep the stored one".
                refresh_token: tokens.refresh_token.map(Secret::new),
                expires_at: tokens
                    .expires_in
                    .map(|seconds| Utc::now() + chrono::Duration::seconds(seconds)),
            });
        }
        Err(match status {
            // The refresh token is spent, revoked or expired: the account must reconnect.
            StatusCode::BAD_REQUEST => RefreshError::Rejected(problem(response).await.describe()),
            // Our client credentials were refused: an operator must fix the configuration.
            StatusCode::UNAUTHORIZED => RefreshError::Unavailable(format!(
                "the platform refused the client credentials: {}",
                problem(response).await.describe()
            )),
            status => RefreshError::Unavailable(format!("unexpected status {status}")),
        })
    }
}

async fn publish(
    http: &reqwest::Client,
    creds: &Creds,
    post: &Publication,
) -> Reply<PublishOutcome> {
    let media_ids = match media::upload_all(http, creds, &post.media).await {
        Ok(ids) => ids,
        Err(stop) => return stop,
    };
    let mut body = serde_json::json!({ "text": post.text });
    if !media_ids.is_empty() {
        body["media"] = serde_json::json!({ "media_ids": media_ids });
    }
    let sent = http
        .post(format!("{}/2/tweets", creds.base_url))
        .bearer_auth(creds.access_token.expose())
        .json(&body)
        .send()
        .await;
    let response = match sent {
        Ok(response) => response,
        Err(error) => return Reply::new(transport_outcome(&error)),
    };
    let status = response.status();
    let rate = util::rate_limit(response.headers());
    if status.is_success() {
        let value = match response.json::<Data<Created>>().await {
            Ok(created) => published(created.data.id),
            Err(error) => PublishOutcome::Ambiguous {
                reason: format!("unreadable response: {}", without_url(&error)),
            },
        };
        return Reply::with_rate(value, rate);
    }
    let value = match status {
        StatusCode::TOO_MANY_REQUESTS => PublishOutcome::Retryable {
            reason: "rate limited (429)".into(),
            retry_after: util::throttled_for(response.headers()),
        },
        status if status.is_server_error() => PublishOutcome::Ambiguous {
            reason: format!("platform error ({status})"),
        },
        StatusCode::UNAUTHORIZED => PublishOutcome::Terminal {
            reason: "the platform refused the token (401)".into(),
        },
        StatusCode::FORBIDDEN => {
            let refusal = problem(response).await;
            let detail = refusal.describe();
            if detail.contains(DUPLICATE_CONTENT) {
                duplicate(http, creds, post).await
            } else {
                PublishOutcome::Terminal {
                    reason: format!("the platform refused the post: {detail}"),
                }
            }
        }
        StatusCode::BAD_REQUEST => PublishOutcome::Terminal {
            reason: format!(
                "the platform refused the post: {}",
                problem(response).await.describe()
            ),
        },
        status => PublishOutcome::Terminal {
            reason: format!("unexpected status {status}"),
        },
    };
    Reply::with_rate(value, rate)
}

/// X says the text was already posted: ours (an earlier attempt that worked) if it appeared
/// since the first attempt, otherwise an older post this one must not repeat.
async fn duplicate(http: &reqwest::Client, creds: &Creds, post: &Publication) -> PublishOutcome {
    match find_by_text(http, creds, post).await.value {
        Reconciled::Found { remote_id, .. } => published(remote_id),
        Reconciled::Absent => PublishOutcome::Terminal {
            reason: "the platform refused the text as a duplicate of an earlier post".into(),
        },
        Reconciled::Unverifiable { reason } | Reconciled::Unavailable { reason, .. } => {
            PublishOutcome::Ambiguous {
                reason: format!(
                    "the platform says this text was already posted and it could not be checked: {reason}"
                ),
            }
        }
    }
}

fn published(id: String) -> PublishOutcome {
    PublishOutcome::Published {
        remote_url: Some(format!("{WEB_STATUS}/{id}")),
        remote_id: id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_describe_themselves_briefly() {
        let duplicate: Problem = serde_json::from_value(serde_json::json!({
            "detail": "You are not allowed to create a Tweet with duplicate content.",
            "title": "Forbidden",
        }))
        .unwrap();
        assert!(duplicate.describe().contains(DUPLICATE_CONTENT));
        let invalid: Problem = serde_json::from_value(serde_json::json!({
            "errors": [{ "message": "Your Tweet text is too long." }],
            "title": "Invalid Request",
        }))
        .unwrap();
        assert_eq!(invalid.describe(), "Your Tweet text is too long.");
    }
}
