//! publisher: connected accounts, posts and their schedules, and publishing each target to
//! its platform exactly once.

pub mod adapters;
pub mod domain;
pub mod handlers;
pub mod media;
pub mod repo;
pub mod resilience;
pub mod sweeper;
pub mod token_keys;

use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use herald_contracts::messages::post_retry::{RETRY_DURABLE, RETRY_FILTER};
use herald_contracts::messages::posts::DUE_FILTER;
use herald_contracts::rpc::publisher::{
    CancelPost, ConnectAccount, CreatePost, DisconnectAccount, GetPost, ListAccounts, ListPosts,
    ReschedulePost, UpdatePost,
};
use herald_contracts::streams::{AUDIT, POSTS};
use herald_kit::db::Db;
use herald_kit::group::GroupCommit;
use herald_kit::outbox::OutboxWaker;
use herald_kit::{App, ConsumerSpec, Env, KitError, ServiceInfo};
use std::sync::Arc;
use std::time::Duration;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");
pub const SCHEMA: &str = "publisher";

pub fn info() -> ServiceInfo {
    ServiceInfo {
        name: "publisher",
        version: env!("CARGO_PKG_VERSION"),
        streams: &[POSTS, AUDIT, herald_contracts::streams::PRIVACY],
        storage: Some((SCHEMA, || MIGRATIONS)),
    }
}

/// Shared by the handlers.
pub struct State {
    pub db: Db,
    pub http: reqwest::Client,
    pub outbox: OutboxWaker,
    pub js: herald_kit::async_nats::jetstream::Context,
    pub breakers: resilience::Breakers,
    pub backoff: resilience::Backoff,
    /// Attempts of a target that the platform refused as retryable before it fails for good.
    pub max_attempts: i32,
    /// Lets accounts on private/loopback addresses be connected (local sandbox only).
    pub allow_private_networks: bool,
    pub adapters: adapters::Adapters,
    pub platforms: adapters::PlatformConfig,
    /// How long a claimed target is owned before another worker may treat it as unknown.
    pub lease: chrono::Duration,
    /// Where attached images come from and where platforms can fetch them.
    pub media: media::MediaConfig,
    /// Seals the accounts' tokens at rest (`HERALD_PUBLISHER_TOKEN_KEYS`).
    pub tokens: token_keys::TokenKeys,
    /// Step 1 and step 3 of due rounds, group-committed.
    pub claims: GroupCommit<handlers::post_due::ClaimWork>,
    pub records: GroupCommit<handlers::post_due::RecordWork>,
}

pub async fn start(env: Env) -> Result<App, KitError> {
    let own = env.scoped("publisher");
    let http_timeout = own.optional_duration_secs("HTTP_TIMEOUT_SECS", Duration::from_secs(15))?;
    let allow_private_networks: bool = own.optional("ALLOW_PRIVATE_NETWORKS", false)?;
    let sweep_every = own.optional_duration_secs("SWEEP_SECS", Duration::from_secs(60))?;
    let sweep_grace = own.optional_duration_secs("SWEEP_GRACE_SECS", Duration::from_secs(120))?;
    let platforms = adapters::PlatformConfig::from_env(&own)?;
    let backoff = resilience::Backoff {
        base: own.optional_duration_secs("RETRY_BASE_SECS", Duration::from_secs(2))?,
        cap: own.optional_duration_secs("RETRY_CAP_SECS", Duration::from_secs(300))?,
    };
    let max_attempts: i32 = own.optional("MAX_ATTEMPTS", 8)?;
    let media_base: String = own.optional("MEDIA_BASE_URL", String::new())?;
    let media = media::MediaConfig {
        public_base: parse_media_base(&media_base)?,
        timeout: http_timeout,
    };
    let breaker_threshold: u32 = own.optional("BREAKER_THRESHOLD", 5)?;
    let breaker_open = own.optional_duration_secs("BREAKER_OPEN_SECS", Duration::from_secs(15))?;
    let tokens = token_keys::TokenKeys::from_env(&own)?;
    let mut app = App::start(info(), &env).await?;
    token_keys::report_usage(&app.db()?, &tokens).await;
    let http = herald_kit::http::client(http_timeout)?;
    let state = Arc::new(State {
        db: app.db()?,
        adapters: adapters::Adapters::new(http.clone(), &platforms),
        platforms,
        http,
        outbox: app.outbox.clone(),
        js: app.js.clone(),
        breakers: resilience::Breakers::new(breaker_threshold, breaker_open),
        backoff,
        max_attempts,
        allow_private_networks,
        lease: chrono::Duration::from_std(http_timeout * 4)
            .unwrap_or(chrono::Duration::seconds(60)),
        media,
        tokens,
        claims: GroupCommit::start(app.db()?, handlers::post_due::ClaimWork, app.config.group),
        records: GroupCommit::start(app.db()?, handlers::post_due::RecordWork, app.config.group),
    });
    let mut due = ConsumerSpec::new(POSTS, "publisher-due", DUE_FILTER);
    due.max_deliver = handlers::post_due::MAX_DELIVER;
    due.backoff = [1, 2, 5, 10, 20, 30, 60, 60, 120]
        .into_iter()
        .map(Duration::from_secs)
        .collect();
    app.consume(due, handlers::post_due::PublishDue(state.clone()))
        .await?;
    // Failed targets' dead letters, replayed by an operator, re-open the target.
    let retry = ConsumerSpec::new(POSTS, RETRY_DURABLE, RETRY_FILTER);
    app.consume_tx(retry, handlers::retry_target::RetryTarget)
        .await?;
    app.consume(
        ConsumerSpec::new(
            herald_contracts::streams::PRIVACY,
            herald_contracts::messages::privacy::erasure_consumer(handlers::erasure::SERVICE),
            herald_contracts::messages::privacy::ERASURE_REQUESTED_FILTER,
        ),
        handlers::erasure::ErasePublisher(state.clone()),
    )
    .await?;
    app.spawn(sweeper::run(
        state.clone(),
        sweep_every,
        sweep_grace,
        app.intake_token(),
    ));
    let s = state.clone();
    app.serve::<ConnectAccount>(move |ctx, req| {
        handlers::connect_account::handle(s.clone(), ctx, req)
    })
    .await?;
    let s = state.clone();
    app.serve::<ListAccounts>(move |ctx, req| handlers::connect_account::list(s.clone(), ctx, req))
        .await?;
    let s = state.clone();
    app.serve::<DisconnectAccount>(move |ctx, req| {
        handlers::connect_account::disconnect(s.clone(), ctx, req)
    })
    .await?;
    let s = state.clone();
    app.serve::<CreatePost>(move |ctx, req| handlers::create_post::handle(s.clone(), ctx, req))
        .await?;
    let s = state.clone();
    app.serve::<GetPost>(move |ctx, req| handlers::get_post::handle(s.clone(), ctx, req))
        .await?;
    let s = state.clone();
    app.serve::<ListPosts>(move |ctx, req| handlers::get_post::list(s.clone(), ctx, req))
        .await?;
    let s = state.clone();
    app.serve::<UpdatePost>(move |ctx, req| handlers::lifecycle::update(s.clone(), ctx, req))
        .await?;
    let s = state.clone();
    app.serve::<ReschedulePost>(move |ctx, req| {
        handlers::lifecycle::reschedule(s.clone(), ctx, req)
    })
    .await?;
    let s = state;
    app.serve::<CancelPost>(move |ctx, req| handlers::lifecycle::cancel(s.clone(), ctx, req))
        .await?;
    // GDPR export: this service's part, asked for by auth only.
    handlers::privacy_export::serve(&mut app).await?;
    Ok(app)
}

/// The public media origin: an http(s) base URL without query, or empty for none.
fn parse_media_base(raw: &str) -> Result<Option<String>, herald_kit::ConfigError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let problem = |problem: &str| herald_kit::ConfigError {
        var: "HERALD_PUBLISHER_MEDIA_BASE_URL".into(),
        problem: problem.into(),
    };
    let url = reqwest::Url::parse(raw).map_err(|_| problem("not a URL"))?;
    if url.scheme() != "https" && url.scheme() != "http" {
        return Err(problem("must be http or https"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(problem("must not have a query or fragment"));
    }
    Ok(Some(raw.trim_end_matches('/').to_owned()))
}
