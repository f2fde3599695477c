//! Threads: Instagram's two-step publishing under other names. `POST /{ver}/{user}/threads`
//! {media_type: TEXT|IMAGE, text, image_url?} makes a container, `POST
//! /{ver}/{user}/threads_publish` {creation_id} publishes it; status via `GET
//! /{ver}/{container}?fields=status,error_message`. Checkpoints, classification and
//! reconciliation are Instagram's (see `instagram::two_step`); the publishing limit is 250
//! posts per moving day. A post without an image is a TEXT post. Tokens refresh with
//! themselves (`grant_type=th_refresh_token`), as Instagram's do.

use super::instagram::graph;
use super::instagram::two_step::{Api, Client};
use super::instagram::{User, connect_failed, refresh_token, tokens_at_connect};
use super::{
    ConnectError, ConnectInput, Connected, Creds, PlatformAdapter, PlatformConfig, Publication,
    PublishOutcome, Reconciled, RefreshError, Reply, Tokens,
};
use herald_contracts::messages::Platform;
use herald_kit::Secret;
use herald_kit::futures::future::BoxFuture;

static API: Api = Api {
    name: "Threads",
    create_edge: "threads",
    publish_edge: "threads_publish",
    text_field: "text",
    status_fields: "status,error_message",
    // Threads' container errors (FAILED_DOWNLOADING_VIDEO, INVALID_…, UNKNOWN) are the media's.
    transient_errors: &[],
};

pub struct Threads {
    http: reqwest::Client,
    base_url: String,
    version: String,
}

impl Threads {
    pub fn new(http: reqwest::Client, config: &PlatformConfig) -> Self {
        Self {
            http,
            base_url: config.threads_url.clone(),
            version: config.threads_version.clone(),
        }
    }

    fn root(&self) -> String {
        format!("{}/{}", self.base_url, self.version)
    }
}

/// Threads accepts `me` for the token's own user.
fn user_segment(creds: &Creds) -> &str {
    if creds.remote_account_id.is_empty() {
        "me"
    } else {
        &creds.remote_account_id
    }
}

impl PlatformAdapter for Threads {
    fn platform(&self) -> Platform {
        Platform::Threads
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
            let request = self
                .http
                .get(format!("{}/me", self.root()))
                .bearer_auth(token.expose())
                .query(&[("fields", "id,username")]);
            let user = graph::send::<User>(request)
                .await
                .0
                .map_err(|failure| connect_failed(&failure, "access_token", "Threads"))?;
            if let Some(wanted) = input.account_ref.as_deref().map(str::trim)
                && !wanted.is_empty()
                && wanted != user.id
            {
                return Err(ConnectError::Rejected(
                    "account_ref: not the Threads user this token belongs to".into(),
                ));
            }
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
            "th_refresh_token",
            &creds.access_token,
        ))
    }

    fn publish<'a>(
        &'a self,
        creds: &'a Creds,
        post: &'a Publication,
    ) -> BoxFuture<'a, Reply<PublishOutcome>> {
        Box::pin(async move {
            let container = Ok(match post.image_url() {
                Some(url) => vec![
                    ("media_type", "IMAGE".to_owned()),
                    ("image_url", url.to_owned()),
                    ("text", post.text.clone()),
                ],
                None => vec![
                    ("media_type", "TEXT".to_owned()),
                    ("text", post.text.clone()),
                ],
            });
            Client::new(&self.http, &API, self.root(), user_segment(creds), creds)
                .publish(post, container)
                .await
        })
    }

    fn reconcile<'a>(
        &'a self,
        creds: &'a Creds,
        post: &'a Publication,
    ) -> BoxFuture<'a, Reply<Reconciled>> {
        Box::pin(
            Client::new(&self.http, &API, self.root(), user_segment(creds), creds).reconcile(post),
        )
    }
}
