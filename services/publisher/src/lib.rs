//! publisher: connected accounts, posts and their schedules, and publishing each target to
//! its platform exactly once.

pub mod adapters;
pub mod domain;
pub mod handlers;
pub mod repo;
pub mod sweeper;

use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use herald_contracts::messages::posts::DUE_FILTER;
use herald_contracts::rpc::publisher::{ConnectAccount, CreatePost, GetPost};
use herald_contracts::streams::POSTS;
use herald_kit::db::Db;
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
        streams: &[POSTS],
        storage: Some((SCHEMA, || MIGRATIONS)),
    }
}

/// Shared by the handlers.
pub struct State {
    pub db: Db,
    pub http: reqwest::Client,
    pub outbox: OutboxWaker,
    /// Lets accounts on private/loopback addresses be connected (local sandbox only).
    pub allow_private_networks: bool,
    pub adapters: adapters::Adapters,
    pub platforms: adapters::PlatformConfig,
    /// How long a claimed target is owned before another worker may treat it as unknown.
    pub lease: chrono::Duration,
}

pub async fn start(env: Env) -> Result<App, KitError> {
    let own = env.scoped("publisher");
    let http_timeout = own.optional_duration_secs("HTTP_TIMEOUT_SECS", Duration::from_secs(15))?;
    let allow_private_networks: bool = own.optional("ALLOW_PRIVATE_NETWORKS", false)?;
    let sweep_every = own.optional_duration_secs("SWEEP_SECS", Duration::from_secs(60))?;
    let sweep_grace = own.optional_duration_secs("SWEEP_GRACE_SECS", Duration::from_secs(120))?;
    let platforms = adapters::PlatformConfig::from_env(&own)?;
    let mut app = App::start(info(), &env).await?;
    let http = herald_kit::http::client(http_timeout)?;
    let state = Arc::new(State {
        db: app.db()?,
        adapters: adapters::Adapters::new(http.clone(), &platforms),
        platforms,
        http,
        outbox: app.outbox.clone(),
        allow_private_networks,
        lease: chrono::Duration::from_std(http_timeout * 4)
            .unwrap_or(chrono::Duration::seconds(60)),
    });
    let mut due = ConsumerSpec::new(POSTS, "publisher-due", DUE_FILTER);
    due.max_deliver = handlers::post_due::MAX_DELIVER;
    due.backoff = [1, 2, 5, 10, 20, 30, 60, 60, 120]
        .into_iter()
        .map(Duration::from_secs)
        .collect();
    app.consume(due, handlers::post_due::PublishDue(state.clone()))
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
    app.serve::<CreatePost>(move |ctx, req| handlers::create_post::handle(s.clone(), ctx, req))
        .await?;
    let s = state;
    app.serve::<GetPost>(move |ctx, req| handlers::get_post::handle(s.clone(), ctx, req))
        .await?;
    Ok(app)
}
