//! Bluesky (AT Protocol): the post is a record whose key we choose, so a retry cannot make a
//! second post.
//!
//! The record key is a TID derived from the target (first-attempt time in microseconds and a
//! clock id hashed from the idempotency key) and the record is byte-identical on every try
//! (fixed `createdAt`). It is written with `com.atproto.repo.putRecord` and `swapRecord: null`
//! (create-only): the reference PDS answers a write of the record already stored under the key
//! as a no-op with the same URI, and refuses a *different* record there with 400
//! `InvalidSwap` instead of overwriting it (`createRecord` on a taken key fails with a bare
//! 500, which would be indistinguishable from an outage). Reconciliation reads the key back
//! with `com.atproto.repo.getRecord`: our record → found, `RecordNotFound` → absent.
//!
//! Images are uploaded as blobs before the write and embedded in the record; blob refs are
//! content-derived, so the record stays byte-identical on every try (see `blob.rs`).

mod blob;
mod record;
mod session;

use super::util::{self, transport_outcome, transport_reconciled, without_url};
use super::{
    ConnectError, ConnectInput, Connected, Creds, PlatformAdapter, PlatformConfig, Publication,
    PublishOutcome, Reconciled, RefreshError, Reply, Tokens,
};
use herald_contracts::messages::Platform;
use herald_kit::Secret;
use herald_kit::futures::future::BoxFuture;
use record::{POST_COLLECTION, is_our_record, post_record, record_key, web_url};
use reqwest::StatusCode;
use serde::Deserialize;
use session::{create_session, jwt_expiry, refresh_session};

#[derive(Deserialize)]
struct Written {
    uri: String,
}

#[derive(Deserialize)]
struct FoundRecord {
    uri: String,
    value: serde_json::Value,
}

/// An XRPC error body; both fields are optional on the wire.
#[derive(Deserialize, Default)]
struct XrpcError {
    #[serde(default)]
    error: String,
    #[serde(default)]
    message: String,
}

impl XrpcError {
    fn describe(&self) -> String {
        let text = match (self.error.is_empty(), self.message.is_empty()) {
            (true, true) => "no reason given".to_owned(),
            (false, true) => self.error.clone(),
            (true, false) => self.message.clone(),
            (false, false) => format!("{}: {}", self.error, self.message),
        };
        util::short(&text, 200)
    }
}

async fn xrpc_error(response: reqwest::Response) -> XrpcError {
    response.json().await.unwrap_or_default()
}

pub struct Bluesky {
    http: reqwest::Client,
    base_url: String,
}

impl Bluesky {
    pub fn new(http: reqwest::Client, config: &PlatformConfig) -> Self {
        Self {
            http,
            base_url: config.bluesky_url.clone(),
        }
    }
}

impl PlatformAdapter for Bluesky {
    fn platform(&self) -> Platform {
        Platform::Bluesky
    }

    fn connect<'a>(
        &'a self,
        input: &'a ConnectInput,
    ) -> BoxFuture<'a, Result<Connected, ConnectError>> {
        Box::pin(async move {
            let identifier = input
                .identifier
                .as_deref()
                .map(str::trim)
                .filter(|i| !i.is_empty())
                .ok_or_else(|| ConnectError::Rejected("identifier: required".into()))?;
            let password = input
                .password
                .as_ref()
                .filter(|p| !p.expose().is_empty())
                .ok_or_else(|| ConnectError::Rejected("password: required".into()))?;
            let base = match input.base_url.trim_end_matches('/') {
                "" => self.base_url.as_str(),
                given => given,
            };
            let session = create_session(&self.http, base, identifier, password).await?;
            Ok(Connected {
                remote_account_id: session.did,
                handle: session.handle,
                tokens: Tokens {
                    expires_at: jwt_expiry(&session.access_jwt),
                    access_token: Secret::new(session.access_jwt),
                    refresh_token: session.refresh_jwt.map(Secret::new),
                },
            })
        })
    }

    fn refresh<'a>(
        &'a self,
        creds: &'a Creds,
        refresh_token: &'a Secret,
    ) -> BoxFuture<'a, Result<Tokens, RefreshError>> {
        Box::pin(refresh_session(&self.http, creds, refresh_token))
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
        Box::pin(get_record(&self.http, creds, post))
    }
}

async fn publish(
    http: &reqwest::Client,
    creds: &Creds,
    post: &Publication,
) -> Reply<PublishOutcome> {
    let embed = match blob::images_embed(http, creds, &post.media).await {
        Ok(embed) => embed,
        Err(stop) => return stop,
    };
    let rkey = record_key(post);
    let body = serde_json::json!({
        "repo": creds.remote_account_id,
        "collection": POST_COLLECTION,
        "rkey": rkey,
        "record": post_record(post, embed),
        // Create-only: never overwrite a different record under our key.
        "swapRecord": null,
    });
    let sent = http
        .post(format!(
            "{}/xrpc/com.atproto.repo.putRecord",
            creds.base_url
        ))
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
        let value = match response.json::<Written>().await {
            Ok(written) => PublishOutcome::Published {
                remote_url: Some(web_url(&creds.remote_account_id, &rkey)),
                remote_id: written.uri,
            },
            Err(error) => PublishOutcome::Ambiguous {
                reason: format!("unreadable response: {}", without_url(&error)),
            },
        };
        return Reply::with_rate(value, rate);
    }
    if status == StatusCode::TOO_MANY_REQUESTS {
        let value = PublishOutcome::Retryable {
            reason: "rate limited (429)".into(),
            retry_after: util::throttled_for(response.headers()),
        };
        return Reply::with_rate(value, rate);
    }
    if status.is_server_error() {
        // The write may have been committed before the failure.
        let value = PublishOutcome::Ambiguous {
            reason: format!("platform error ({status})"),
        };
        return Reply::with_rate(value, rate);
    }
    let error = xrpc_error(response).await;
    let value = match (status, error.error.as_str()) {
        (StatusCode::BAD_REQUEST, "InvalidSwap") => taken_key(http, creds, post).await,
        // Auth is checked before anything is written; a refreshed token will pass.
        (StatusCode::BAD_REQUEST, "ExpiredToken") => PublishOutcome::Retryable {
            reason: "the access token has expired and must be refreshed".into(),
            retry_after: None,
        },
        (StatusCode::BAD_REQUEST, "InvalidToken")
        | (StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN, _) => PublishOutcome::Terminal {
            reason: format!("the platform refused the token: {}", error.describe()),
        },
        (StatusCode::BAD_REQUEST | StatusCode::PAYLOAD_TOO_LARGE, _) => PublishOutcome::Terminal {
            reason: format!("the platform refused the post: {}", error.describe()),
        },
        (status, _) => PublishOutcome::Terminal {
            reason: format!("unexpected status {status}: {}", error.describe()),
        },
    };
    Reply::with_rate(value, rate)
}

/// `InvalidSwap`: something already holds our key. If it is our record (a PDS that checks
/// the swap before its no-op), the post is published; anything else is not ours to touch.
async fn taken_key(http: &reqwest::Client, creds: &Creds, post: &Publication) -> PublishOutcome {
    match get_record(http, creds, post).await.value {
        Reconciled::Found {
            remote_id,
            remote_url,
        } => PublishOutcome::Published {
            remote_id,
            remote_url,
        },
        Reconciled::Unverifiable { reason } => PublishOutcome::Terminal {
            reason: format!("this post's record key is taken: {reason}"),
        },
        Reconciled::Absent => PublishOutcome::Ambiguous {
            reason: "the platform reported a record under this post's key that it cannot show"
                .into(),
        },
        Reconciled::Unavailable { reason, .. } => PublishOutcome::Ambiguous {
            reason: format!("this post's record key is taken and could not be read: {reason}"),
        },
    }
}

/// Reads our key back. Public data: no token is sent, so an expired one cannot stop it.
async fn get_record(
    http: &reqwest::Client,
    creds: &Creds,
    post: &Publication,
) -> Reply<Reconciled> {
    let rkey = record_key(post);
    let sent = http
        .get(format!(
            "{}/xrpc/com.atproto.repo.getRecord",
            creds.base_url
        ))
        .query(&[
            ("repo", creds.remote_account_id.as_str()),
            ("collection", POST_COLLECTION),
            ("rkey", rkey.as_str()),
        ])
        .send()
        .await;
    let response = match sent {
        Ok(response) => response,
        Err(error) => return Reply::new(transport_reconciled(&error)),
    };
    let status = response.status();
    let rate = util::rate_limit(response.headers());
    if status.is_success() {
        let value = match response.json::<FoundRecord>().await {
            Ok(found) if is_our_record(&found.value, post) => Reconciled::Found {
                remote_id: found.uri,
                remote_url: Some(web_url(&creds.remote_account_id, &rkey)),
            },
            Ok(_) => Reconciled::Unverifiable {
                reason: "a different record holds this post's record key".into(),
            },
            Err(error) => transport_reconciled(&error),
        };
        return Reply::with_rate(value, rate);
    }
    if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        let value = Reconciled::Unavailable {
            reason: format!("record lookup failed ({status})"),
            retry_after: util::throttled_for(response.headers()),
        };
        return Reply::with_rate(value, rate);
    }
    let error = xrpc_error(response).await;
    // Older PDS versions send the same text without the `RecordNotFound` name.
    let not_found = error.error == "RecordNotFound"
        || (status == StatusCode::BAD_REQUEST
            && error.message.starts_with("Could not locate record"));
    let value = if not_found {
        Reconciled::Absent
    } else {
        Reconciled::Unverifiable {
            reason: format!("record lookup refused ({status}): {}", error.describe()),
        }
    };
    Reply::with_rate(value, rate)
}
