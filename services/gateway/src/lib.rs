//! gateway: the only public HTTP surface. It verifies access tokens locally (public keys from
//! the `auth-keys` KV bucket), enforces each route's role from one table, gives every request
//! an id and a trace, and reaches the services only by NATS request/reply. It owns no tables.

pub mod api_keys;
pub mod config;
pub mod events;
pub mod http;
pub mod keys;
pub mod kv_watch;
pub mod revocations;
pub mod token;

use crate::config::GatewayConfig;
use crate::events::EventFeeds;
use crate::keys::KeyCache;
use crate::token::Verifier;
use herald_contracts::streams::{POSTS, RENDERS};
use herald_kit::{App, Env, KitError, ServiceInfo};
use std::net::SocketAddr;
use std::sync::Arc;

pub fn info() -> ServiceInfo {
    ServiceInfo {
        name: "gateway",
        version: env!("CARGO_PKG_VERSION"),
        // Read (never written) by the tenant event stream; see `events`.
        streams: &[POSTS, RENDERS],
        storage: None,
    }
}

/// A started gateway: the kit's `App` (call `run`) and the address the public HTTP server bound.
pub struct Gateway {
    pub app: App,
    pub http_addr: SocketAddr,
}

/// Builds the gateway and starts serving HTTP; `main` uses this through `start`.
pub async fn start(env: Env) -> Result<App, KitError> {
    Ok(start_with_addr(env).await?.app)
}

/// Like `start`, also returning the bound HTTP address (tests bind `127.0.0.1:0`).
pub async fn start_with_addr(env: Env) -> Result<Gateway, KitError> {
    // Parsed and bound before connecting anywhere, so a bad variable or a taken port fails fast.
    let config = GatewayConfig::from_env(&env.scoped(info().name))?;
    let listener = std::net::TcpListener::bind(config.http_addr)
        .map_err(|error| KitError::Other(format!("cannot bind {}: {error}", config.http_addr)))?;
    let http_addr = listener
        .local_addr()
        .map_err(|error| KitError::Other(format!("bound address: {error}")))?;

    let app = App::start(info(), &env).await?;
    let keys = Arc::new(KeyCache::new(app.js.clone()));
    app.spawn(keys.clone().watch(app.intake_token()));
    let revocations = Arc::new(revocations::RevocationCache::new(
        app.js.clone(),
        app.config.stream_replicas,
    ));
    app.spawn(revocations.clone().watch(app.intake_token()));
    // Serving before the revocations are in would let a revoked token through (the verifier
    // also refuses tokens until then, should this time out).
    if !revocations.ready(std::time::Duration::from_secs(10)).await {
        tracing::warn!("revocations not loaded yet; tokens are refused until they are");
    }
    let api_keys = Arc::new(api_keys::ApiKeyCache::new(
        app.js.clone(),
        app.nats.clone(),
        app.config.stream_replicas,
    ));
    app.spawn(api_keys.clone().watch(app.intake_token()));
    // Likewise: a revoked key must not pass while the bucket is still being read.
    if !api_keys.ready(std::time::Duration::from_secs(10)).await {
        tracing::warn!("api keys not loaded yet; keys are refused until they are");
    }

    let state = http::State {
        nats: app.nats.clone(),
        rpc_timeout: app.config.rpc_timeout,
        verifier: Arc::new(Verifier::new(keys, revocations)),
        api_keys,
        events: Arc::new(EventFeeds::new(
            app.js.clone(),
            config.sse_heartbeat,
            config.sse_max_streams,
            app.intake_token(),
        )),
        limiter: Arc::new(http::ratelimit::RateLimiter::new(
            app.js.clone(),
            config.rate,
            app.config.stream_replicas,
        )),
    };
    let server = http::server(listener, state, &config, app.config.shutdown_timeout)?;
    let handle = server.handle();
    // SIGTERM (or the shutdown token) cancels intake: stop accepting, let in-flight requests finish.
    let intake = app.intake_token();
    app.spawn(async move {
        intake.cancelled().await;
        handle.stop(true).await;
    });
    app.spawn(async move {
        if let Err(error) = server.await {
            tracing::error!(error = %error, "http server failed");
        }
    });
    tracing::info!(http.addr = %http_addr, "gateway listening");
    Ok(Gateway { app, http_addr })
}
