//! Mastodon: `POST /api/v1/statuses` with a deterministic `Idempotency-Key`, which the server
//! honours for an hour per account by returning the original status — so resending with the
//! same key is both the retry and the reconciliation within that hour. Past the hour, the
//! account's recent statuses are searched for the same text.
//!
//! Images are uploaded first (`POST /api/v2/media`, multipart `file` + `description` as the
//! alt text) and attached by id. An upload creates no status, so a failed one is retryable;
//! a retry uploads again (orphan uploads are cleaned up by the instance) and, within the
//! window, the idempotency key still answers with the original status.

use super::util::{self, normalize, transport_outcome, transport_reconciled, without_url};
use super::{
    ConnectError, ConnectInput, Connected, Creds, MediaItem, PlatformAdapter, PlatformConfig,
    Publication, PublishOutcome, Reconciled, RefreshError, Reply, Tokens,
};
use chrono::{DateTime, Utc};
use herald_contracts::messages::Platform;
use herald_kit::Secret;
use herald_kit::futures::future::BoxFuture;
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

#[derive(Deserialize)]
struct MediaAttachment {
    id: String,
}

#[derive(Deserialize)]
struct ListedStatus {
    id: String,
    url: Option<String>,
    content: String,
    created_at: DateTime<Utc>,
}

pub struct Mastodon {
    http: reqwest::Client,
    idempotency_window: Duration,
}

impl Mastodon {
    pub fn new(http: reqwest::Client, config: &PlatformConfig) -> Self {
        Self {
            http,
            idempotency_window: config.mastodon_idempotency_window,
        }
    }
}

impl PlatformAdapter for Mastodon {
    fn platform(&self) -> Platform {
        Platform::Mastodon
    }

    fn connect<'a>(
        &'a self,
        input: &'a ConnectInput,
    ) -> BoxFuture<'a, Result<Connected, ConnectError>> {
        Box::pin(async move {
            let token = input
                .access_token
                .as_ref()
                .ok_or_else(|| ConnectError::Rejected("access_token: required".into()))?;
            let remote = verify_credentials(&self.http, &input.base_url, token.expose()).await?;
            Ok(Connected {
                remote_account_id: remote.0,
                handle: remote.1,
                tokens: Tokens {
                    access_token: token.clone(),
                    refresh_token: None,
                    expires_at: None,
                },
            })
        })
    }

    fn refresh<'a>(
        &'a self,
        _creds: &'a Creds,
        _refresh_token: &'a Secret,
    ) -> BoxFuture<'a, Result<Tokens, RefreshError>> {
        // Mastodon's OAuth tokens do not expire.
        Box::pin(async { Err(RefreshError::Unsupported) })
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
        Box::pin(async move {
            let window = chrono::Duration::from_std(self.idempotency_window)
                .unwrap_or(chrono::Duration::hours(1));
            // Inside the window the server answers a resend with the original status.
            if Utc::now() < post.first_attempt_at + window - chrono::Duration::minutes(5) {
                return Reply::new(Reconciled::Absent);
            }
            find_by_text(&self.http, creds, post).await
        })
    }
}

async fn verify_credentials(
    http: &reqwest::Client,
    instance_url: &str,
    token: &str,
) -> Result<(String, String), ConnectError> {
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
            Ok((account.id, account.acct))
        }
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Err(ConnectError::Rejected(
            "access_token: the platform refused it".into(),
        )),
        status => Err(ConnectError::Unreachable(format!(
            "unexpected status {status}"
        ))),
    }
}

/// Past the idempotency window: the account's statuses since the first attempt, matched on
/// their text (Mastodon returns HTML; tags and entities are stripped before comparing).
async fn find_by_text(
    http: &reqwest::Client,
    creds: &Creds,
    post: &Publication,
) -> Reply<Reconciled> {
    let sent = http
        .get(format!(
            "{}/api/v1/accounts/{}/statuses",
            creds.base_url, creds.remote_account_id
        ))
        .bearer_auth(creds.access_token.expose())
        .query(&[("limit", "40"), ("exclude_replies", "true")])
        .send()
        .await;
    let response = match sent {
        Ok(response) => response,
        Err(error) => return Reply::new(transport_reconciled(&error)),
    };
    let rate = util::rate_limit(response.headers());
    if !response.status().is_success() {
        let status = response.status();
        let value = if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            Reconciled::Unverifiable {
                reason: format!("status lookup refused ({status})"),
            }
        } else {
            Reconciled::Unavailable {
                reason: format!("status lookup failed ({status})"),
                retry_after: util::throttled_for(response.headers()),
            }
        };
        return Reply::with_rate(value, rate);
    }
    let statuses: Vec<ListedStatus> = match response.json().await {
        Ok(statuses) => statuses,
        Err(error) => return Reply::with_rate(transport_reconciled(&error), rate),
    };
    let wanted = normalize(&post.text);
    let since = post.lookup_since();
    let value = statuses
        .into_iter()
        .find(|s| s.created_at >= since && normalize(&strip_html(&s.content)) == wanted)
        .map_or(Reconciled::Absent, |s| Reconciled::Found {
            remote_id: s.id,
            remote_url: s.url,
        });
    Reply::with_rate(value, rate)
}

fn strip_html(html: &str) -> String {
    let spaced = html
        .replace("<br />", "\n")
        .replace("<br>", "\n")
        .replace("</p><p>", "\n\n");
    let mut text = String::with_capacity(spaced.len());
    let mut in_tag = false;
    for c in spaced.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// Uploads one image; its MediaAttachment id, or why the publish must stop.
async fn upload(
    http: &reqwest::Client,
    creds: &Creds,
    item: &MediaItem,
) -> Result<String, Reply<PublishOutcome>> {
    let file = util::image_part(item).map_err(Reply::new)?;
    let mut form = reqwest::multipart::Form::new().part("file", file);
    if let Some(alt) = &item.alt_text {
        form = form.text("description", alt.clone());
    }
    let sent = http
        .post(format!("{}/api/v2/media", creds.base_url))
        .bearer_auth(creds.access_token.expose())
        .multipart(form)
        .send()
        .await;
    let response = sent.map_err(|error| Reply::new(util::upload_transport_outcome(&error)))?;
    let status = response.status();
    let rate = util::rate_limit(response.headers());
    // 202 is "still processing" (video): the id is already usable in a status.
    if status.is_success() {
        return match response.json::<MediaAttachment>().await {
            Ok(media) => Ok(media.id),
            Err(error) => Err(Reply::with_rate(
                util::upload_transport_outcome(&error),
                rate,
            )),
        };
    }
    let headers = response.headers().clone();
    let detail = error_text(response).await;
    Err(Reply::with_rate(
        util::upload_refused(status, &headers, &detail),
        rate,
    ))
}

async fn publish(
    http: &reqwest::Client,
    creds: &Creds,
    post: &Publication,
) -> Reply<PublishOutcome> {
    let mut media_ids = Vec::with_capacity(post.media.len());
    for item in &post.media {
        match upload(http, creds, item).await {
            Ok(id) => media_ids.push(id),
            Err(stop) => return stop,
        }
    }
    let mut body = serde_json::json!({ "status": post.text, "visibility": "public" });
    if !media_ids.is_empty() {
        body["media_ids"] = serde_json::json!(media_ids);
    }
    let sent = http
        .post(format!("{}/api/v1/statuses", creds.base_url))
        .bearer_auth(creds.access_token.expose())
        .header("Idempotency-Key", &post.idempotency_key)
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
        let value = match response.json::<Status>().await {
            Ok(created) => PublishOutcome::Published {
                remote_id: created.id,
                remote_url: created.url,
            },
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
    };
    Reply::with_rate(value, rate)
}

async fn error_text(response: reqwest::Response) -> String {
    #[derive(Deserialize)]
    struct ErrorBody {
        error: String,
    }
    response
        .json::<ErrorBody>()
        .await
        .map(|body| util::short(&body.error, 200))
        .unwrap_or_else(|_| "no reason given".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_content_compares_equal_to_its_text() {
        let html = "<p>a &lt;b&gt; &amp; &#39;c&#39;<br />next</p><p>second</p>";
        assert_eq!(
            normalize(&strip_html(html)),
            normalize("a <b> & 'c'\nnext\n\nsecond")
        );
    }
}
