//! Platform adapters: one trait, one implementation per social network.
//!
//! Every adapter classifies every outcome of a platform call as success, retryable (known
//! not created), terminal, or ambiguous (may have been created), and offers the strongest
//! reconciliation its platform allows, which the publisher runs before any retry that
//! follows an ambiguous outcome. Base URLs and API versions come from config
//! ([`PlatformConfig`]), never from code.

pub mod bluesky;
pub mod facebook;
pub mod instagram;
pub mod linkedin;
pub mod mastodon;
pub mod threads;
pub mod util;
pub mod x;

use chrono::{DateTime, Utc};
use herald_contracts::messages::Platform;
use herald_kit::futures::future::BoxFuture;
use herald_kit::{ConfigError, Env, Secret};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// What a call needs to know about a connected account.
#[derive(Debug, Clone)]
pub struct Creds {
    /// The API base URL: the account's instance for Mastodon, the configured one otherwise.
    pub base_url: String,
    /// The platform's id of the account: Mastodon account id, Bluesky DID, X user id,
    /// LinkedIn author URN, Facebook page id, Instagram user id, Threads user id.
    pub remote_account_id: String,
    pub access_token: Secret,
}

/// One post as a platform call sees it. Everything here is fixed before the first attempt and
/// the same on every retry, so a retry is byte-identical to the first try.
#[derive(Debug, Clone)]
pub struct Publication {
    pub text: String,
    /// Deterministic per (post, account): Mastodon's `Idempotency-Key`, the seed of Bluesky's
    /// record key.
    pub idempotency_key: String,
    /// When the first attempt began: Bluesky's fixed `createdAt` and TID, and the lower bound
    /// of every lookup of recent posts.
    pub first_attempt_at: DateTime<Utc>,
    /// A platform reference saved by an earlier step ([`PublishOutcome::Checkpoint`]): the
    /// Instagram or Threads container id.
    pub checkpoint: Option<String>,
    /// The attached images, in order (renderer assets).
    pub media: Vec<MediaItem>,
}

/// One attached image as a platform call needs it.
#[derive(Debug, Clone)]
pub struct MediaItem {
    /// For the platforms that take an upload.
    pub bytes: bytes::Bytes,
    pub content_type: String,
    pub alt_text: Option<String>,
    /// For the platforms that fetch the image themselves (Instagram, Threads).
    pub public_url: Option<String>,
    /// SHA-256 of `bytes`, hex.
    pub content_hash: String,
}

impl Publication {
    /// The first image's public URL, for the platforms that fetch one.
    pub fn image_url(&self) -> Option<&str> {
        self.media.first().and_then(|m| m.public_url.as_deref())
    }
}

impl Publication {
    /// The earliest creation time a post of ours can have: the first attempt, less a margin
    /// for clocks that disagree. Lookups of recent posts start here.
    pub fn lookup_since(&self) -> chrono::DateTime<Utc> {
        self.first_attempt_at - chrono::Duration::minutes(5)
    }
}

/// Where a publish call ended.
#[derive(Debug, Clone, PartialEq)]
pub enum PublishOutcome {
    Published {
        remote_id: String,
        remote_url: Option<String>,
    },
    /// A step that must be saved before the next one (a container id): the caller stores
    /// `reference` durably and calls `publish` again with it as the checkpoint.
    Checkpoint { reference: String },
    /// The platform is still processing (a media container): ask again later; nothing new
    /// was created and nothing must be published again.
    Pending {
        reason: String,
        retry_after: Option<Duration>,
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

/// What a reconciliation found out about an earlier attempt whose outcome is unknown.
#[derive(Debug, Clone, PartialEq)]
pub enum Reconciled {
    /// The post exists: the target is done.
    Found {
        remote_id: String,
        remote_url: Option<String>,
    },
    /// Confirmed not there: publishing again cannot duplicate.
    Absent,
    /// The platform (or the granted scopes) allows no lookup: a person must decide.
    Unverifiable { reason: String },
    /// The lookup itself failed: try the lookup again later, publish nothing.
    Unavailable {
        reason: String,
        retry_after: Option<Duration>,
    },
}

/// The platform's rate-limit state as its headers told it, for the per-account budget.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub remaining: u64,
    pub reset_at: DateTime<Utc>,
}

/// A platform answer with what its rate-limit headers said, if anything.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply<T> {
    pub value: T,
    pub rate: Option<RateLimit>,
}

impl<T> Reply<T> {
    pub fn new(value: T) -> Self {
        Self { value, rate: None }
    }
    pub fn with_rate(value: T, rate: Option<RateLimit>) -> Self {
        Self { value, rate }
    }
}

/// Credentials as the user hands them over when connecting an account.
#[derive(Debug, Clone, Default)]
pub struct ConnectInput {
    /// Mastodon: the instance URL (validated against SSRF). Others: the configured base URL.
    pub base_url: String,
    pub access_token: Option<Secret>,
    pub refresh_token: Option<Secret>,
    /// Seconds until the access token expires, when the OAuth response said so.
    pub expires_in: Option<i64>,
    /// Bluesky: handle or DID for `createSession`.
    pub identifier: Option<String>,
    /// Bluesky: the app password for `createSession` (used once, never stored).
    pub password: Option<Secret>,
    /// The platform object to post as when the token can reach several: Facebook page id,
    /// Instagram user id, LinkedIn organization URN. Optional where the token implies it.
    pub account_ref: Option<String>,
}

/// Tokens to store for an account.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access_token: Secret,
    /// `None` in a refresh response means "keep the stored one" (never wipe it).
    pub refresh_token: Option<Secret>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// A verified account, ready to store.
#[derive(Debug, Clone)]
pub struct Connected {
    pub remote_account_id: String,
    pub handle: String,
    pub tokens: Tokens,
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The credentials are wrong or incomplete: the message names the field, never a value.
    #[error("{0}")]
    Rejected(String),
    #[error("the platform could not be reached: {0}")]
    Unreachable(String),
}

#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// The refresh token is no longer accepted: the account must be connected again.
    #[error("the platform refused the refresh: {0}")]
    Rejected(String),
    #[error("the token could not be refreshed now: {0}")]
    Unavailable(String),
    #[error("this platform's tokens cannot be refreshed")]
    Unsupported,
}

/// One social network. Implementations hold their HTTP client and config; all methods are
/// safe to call concurrently.
pub trait PlatformAdapter: Send + Sync {
    fn platform(&self) -> Platform;

    /// Verifies the credentials with the platform and says who they belong to.
    fn connect<'a>(
        &'a self,
        input: &'a ConnectInput,
    ) -> BoxFuture<'a, Result<Connected, ConnectError>>;

    /// Exchanges the refresh token for new tokens (the publisher calls it ahead of expiry).
    fn refresh<'a>(
        &'a self,
        creds: &'a Creds,
        refresh_token: &'a Secret,
    ) -> BoxFuture<'a, Result<Tokens, RefreshError>>;

    /// Makes (or continues) the post. Must never be called after an ambiguous outcome without
    /// a `reconcile` that answered [`Reconciled::Absent`] first.
    fn publish<'a>(
        &'a self,
        creds: &'a Creds,
        post: &'a Publication,
    ) -> BoxFuture<'a, Reply<PublishOutcome>>;

    /// Finds out whether an earlier attempt created the post.
    fn reconcile<'a>(
        &'a self,
        creds: &'a Creds,
        post: &'a Publication,
    ) -> BoxFuture<'a, Reply<Reconciled>>;
}

/// Per-platform settings from config (`HERALD_PUBLISHER_<PLATFORM>_URL`, `..._VERSION`, ...).
#[derive(Debug, Clone)]
pub struct PlatformConfig {
    /// Bluesky PDS / entryway.
    pub bluesky_url: String,
    pub x_url: String,
    /// OAuth2 client for X's refresh grant (public clients send only the id).
    pub x_client_id: Option<String>,
    pub x_client_secret: Option<Secret>,
    pub linkedin_url: String,
    /// `LinkedIn-Version: YYYYMM`, retired by LinkedIn after about a year.
    pub linkedin_version: String,
    pub facebook_url: String,
    /// Graph API version path segment for Facebook and Instagram, e.g. `v23.0`.
    pub graph_version: String,
    pub instagram_url: String,
    pub threads_url: String,
    pub threads_version: String,
    /// Mastodon's `Idempotency-Key` is honoured for this long; after it, reconcile by lookup.
    pub mastodon_idempotency_window: Duration,
}

impl PlatformConfig {
    /// Reads the publisher-scoped env; defaults are the platforms' production endpoints.
    pub fn from_env(own: &Env) -> Result<Self, ConfigError> {
        let url = |key: &str, default: &str| -> Result<String, ConfigError> {
            let value: String = own.optional(key, default.to_owned())?;
            Ok(value.trim_end_matches('/').to_owned())
        };
        Ok(Self {
            bluesky_url: url("BLUESKY_URL", "https://bsky.social")?,
            x_url: url("X_URL", "https://api.x.com")?,
            x_client_id: own
                .optional::<String>("X_CLIENT_ID", String::new())
                .map(|v| Some(v).filter(|v| !v.is_empty()))?,
            x_client_secret: own.optional_secret("X_CLIENT_SECRET")?,
            linkedin_url: url("LINKEDIN_URL", "https://api.linkedin.com")?,
            linkedin_version: own.optional("LINKEDIN_VERSION", "202611".to_owned())?,
            facebook_url: url("FACEBOOK_URL", "https://graph.facebook.com")?,
            graph_version: own.optional("GRAPH_VERSION", "v23.0".to_owned())?,
            instagram_url: url("INSTAGRAM_URL", "https://graph.facebook.com")?,
            threads_url: url("THREADS_URL", "https://graph.threads.net")?,
            threads_version: own.optional("THREADS_VERSION", "v1.0".to_owned())?,
            mastodon_idempotency_window: own.optional_duration_secs(
                "MASTODON_IDEMPOTENCY_WINDOW_SECS",
                Duration::from_secs(3600),
            )?,
        })
    }

    /// The base URL stored with a new account of `platform` (Mastodon's comes from the user).
    pub fn base_url(&self, platform: Platform) -> Option<&str> {
        match platform {
            Platform::Mastodon => None,
            Platform::Bluesky => Some(&self.bluesky_url),
            Platform::X => Some(&self.x_url),
            Platform::Linkedin => Some(&self.linkedin_url),
            Platform::Facebook => Some(&self.facebook_url),
            Platform::Instagram => Some(&self.instagram_url),
            Platform::Threads => Some(&self.threads_url),
        }
    }
}

/// Every adapter, by platform.
#[derive(Clone)]
pub struct Adapters(HashMap<Platform, Arc<dyn PlatformAdapter>>);

impl Adapters {
    pub fn new(http: reqwest::Client, config: &PlatformConfig) -> Self {
        let all: Vec<Arc<dyn PlatformAdapter>> = vec![
            Arc::new(mastodon::Mastodon::new(http.clone(), config)),
            Arc::new(bluesky::Bluesky::new(http.clone(), config)),
            Arc::new(x::X::new(http.clone(), config)),
            Arc::new(linkedin::Linkedin::new(http.clone(), config)),
            Arc::new(facebook::Facebook::new(http.clone(), config)),
            Arc::new(instagram::Instagram::new(http.clone(), config)),
            Arc::new(threads::Threads::new(http, config)),
        ];
        Self(all.into_iter().map(|a| (a.platform(), a)).collect())
    }

    pub fn get(&self, platform: Platform) -> Option<&Arc<dyn PlatformAdapter>> {
        self.0.get(&platform)
    }
}
