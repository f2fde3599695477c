//! Instagram (Graph API content publishing): `POST /{ver}/{ig-user-id}/media` {image_url,
//! caption} makes a container, `POST /{ver}/{ig-user-id}/media_publish` {creation_id}
//! publishes it. The two steps, the checkpoint contract and reconciliation are in
//! [`two_step`], shared with Threads.
//!
//! Classification: every failure is read from Graph's error `code`: 4/17/32/613/800xx
//! (throttling) → `Retryable` with Meta's `estimated_time_to_regain_access`; 9/2207042 (50 posts
//! per moving day) → `Retryable` until the oldest post of the day leaves the window; 190 →
//! `Terminal`; transient codes, 5xx and lost answers of the publish step → `Ambiguous`. Usage
//! headers (`X-App-Usage`, `X-Business-Use-Case-Usage`) become the reply's [`RateLimit`]
//! (`remaining` in percent of Meta's budget).
//!
//! Tokens: Meta's long-lived tokens are refreshed with themselves (`GET
//! /refresh_access_token?grant_type=ig_refresh_token`), so `refresh` presents the account's
//! current access token; there is no separate refresh token (connect stores none, refresh
//! answers `None`: keep whatever is stored).

pub(crate) mod graph;
pub(crate) mod two_step;

use super::{
    ConnectError, ConnectInput, Connected, Creds, PlatformAdapter, PlatformConfig, Publication,
    PublishOutcome, RateLimit, Reconciled, RefreshError, Reply, Tokens,
};
use chrono::Utc;
use graph::Failure;
use herald_contracts::messages::Platform;
use herald_kit::Secret;
use herald_kit::futures::future::BoxFuture;
use serde::Deserialize;
use two_step::{Api, Client};

static API: Api = Api {
    name: "Instagram",
    create_edge: "media",
    publish_edge: "media_publish",
    text_field: "caption",
    status_fields: "status_code,status",
    // Meta's "try again / generate a new container" processing errors.
    transient_errors: &["2207001", "2207003", "2207020", "2207032", "2207053"],
};

#[derive(Deserialize)]
pub(crate) struct User {
    pub(crate) id: String,
    pub(crate) username: Option<String>,
}

#[derive(Deserialize)]
struct Refreshed {
    access_token: String,
    expires_in: Option<i64>,
}

pub struct Instagram {
    http: reqwest::Client,
    base_url: String,
    version: String,
}

impl Instagram {
    pub fn new(http: reqwest::Client, config: &PlatformConfig) -> Self {
        Self {
            http,
            base_url: config.instagram_url.clone(),
            version: config.graph_version.clone(),
        }
    }

    fn root(&self) -> String {
        format!("{}/{}", self.base_url, self.version)
    }
}

/// Why the connection was refused or failed, naming the field at fault.
pub(crate) fn connect_failed(failure: &Failure, account_field: &str, name: &str) -> ConnectError {
    if failure.is_token() {
        ConnectError::Rejected("access_token: the platform refused it".into())
    } else if failure.is_not_found() || failure.is_permission() {
        ConnectError::Rejected(format!(
            "{account_field}: not a {name} account this token can publish to"
        ))
    } else {
        ConnectError::Unreachable(failure.reason())
    }
}

/// `GET {base}/refresh_access_token?grant_type=..&access_token=..` (the token must go in the
/// query string; errors never carry the URL).
pub(crate) async fn refresh_token(
    http: &reqwest::Client,
    base_url: &str,
    grant_type: &str,
    token: &Secret,
) -> Result<Tokens, RefreshError> {
    let request = http
        .get(format!("{base_url}/refresh_access_token"))
        .query(&[("grant_type", grant_type), ("access_token", token.expose())]);
    match graph::send::<Refreshed>(request).await.0 {
        Ok(refreshed) => Ok(Tokens {
            access_token: Secret::new(refreshed.access_token),
            // Meta has no separate refresh token: keep what is stored.
            refresh_token: None,
            expires_at: refreshed
                .expires_in
                .map(|secs| Utc::now() + chrono::Duration::seconds(secs)),
        }),
        Err(failure) if failure.is_token() => Err(RefreshError::Rejected(failure.reason())),
        Err(failure) => Err(RefreshError::Unavailable(failure.reason())),
    }
}

pub(crate) fn tokens_at_connect(token: &Secret, expires_in: Option<i64>) -> Tokens {
    Tokens {
        access_token: token.clone(),
        refresh_token: None,
        expires_at: expires_in.map(|secs| Utc::now() + chrono::Duration::seconds(secs)),
    }
}

/// The usage a reply reports when no call was made.
fn no_call<T>(value: T) -> Reply<T> {
    Reply::with_rate(value, None::<RateLimit>)
}

impl PlatformAdapter for Instagram {
    fn platform(&self) -> Platform {
        Platform::Instagram
    }

    fn connect<'a>(
        &'a self,
        input: &'a ConnectInput,
    ) -> BoxFuture<'a, Result<Connected, ConnectError>> {
        Box::pin(async move {
            let token = input
                .access_token
                .as_ref()
                .filter(|t| !t.expose().trim().is_empty())
                .ok_or_else(|| ConnectError::Rejected("access_token: required".into()))?;
            let user_id = input
                .account_ref
                .as_deref()
                .map(str::trim)
                .filter(|id| !id.is_empty())
                .ok_or_else(|| {
                    ConnectError::Rejected(
                        "account_ref: required (the Instagram professional account's user id)"
                            .into(),
                    )
                })?;
            if !user_id.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ConnectError::Rejected(
                    "account_ref: must be the numeric Instagram user id".into(),
                ));
            }
            let request = self
                .http
                .get(format!("{}/{user_id}", self.root()))
                .bearer_auth(token.expose())
                .query(&[("fields", "id,username")]);
            let user = graph::send::<User>(request)
                .await
                .0
                .map_err(|failure| connect_failed(&failure, "account_ref", "Instagram"))?;
            Ok(Connected {
                handle: user.username.unwrap_or_else(|| user.id.clone()),
                remote_account_id: user.id,
                tokens: tokens_at_connect(token, input.expires_in),
            })
        })
    }

    fn refresh<'a>(
        &'a self,
        creds: &'a Creds,
        _refresh_token: &'a Secret,
    ) -> BoxFuture<'a, Result<Tokens, RefreshError>> {
        Box::pin(refresh_token(
            &self.http,
            &self.base_url,
            "ig_refresh_token",
            &creds.access_token,
        ))
    }

    fn publish<'a>(
        &'a self,
        creds: &'a Creds,
        post: &'a Publication,
    ) -> BoxFuture<'a, Reply<PublishOutcome>> {
        Box::pin(async move {
            if creds.remote_account_id.is_empty() {
                return no_call(PublishOutcome::Terminal {
                    reason: "the account has no Instagram user id; connect it again".into(),
                });
            }
            let container = match post.image_url() {
                Some(url) => Ok(vec![
                    ("image_url", url.to_owned()),
                    ("caption", post.text.clone()),
                ]),
                None => Err("Instagram needs an image".to_owned()),
            };
            Client::new(
                &self.http,
                &API,
                self.root(),
                &creds.remote_account_id,
                creds,
            )
            .publish(post, container)
            .await
        })
    }

    fn reconcile<'a>(
        &'a self,
        creds: &'a Creds,
        post: &'a Publication,
    ) -> BoxFuture<'a, Reply<Reconciled>> {
        Box::pin(async move {
            if creds.remote_account_id.is_empty() {
                return no_call(Reconciled::Unverifiable {
                    reason: "the account has no Instagram user id; connect it again".into(),
                });
            }
            Client::new(
                &self.http,
                &API,
                self.root(),
                &creds.remote_account_id,
                creds,
            )
            .reconcile(post)
            .await
        })
    }
}
