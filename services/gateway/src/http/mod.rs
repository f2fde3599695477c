//! The public HTTP API: the server, its middleware (`edge`, with `cors`, `ratelimit` and
//! `body`), the route policy table, the uniform errors and one file per resource under
//! `routes/`.

pub mod body;
pub mod client_ip;
pub mod cors;
pub mod ctx;
pub mod edge;
pub mod error;
pub mod headers;
pub mod policy;
pub mod ratelimit;
pub mod routes;

use crate::config::GatewayConfig;
use crate::events::EventFeeds;
use crate::http::cors::Cors;
use crate::token::Verifier;
use actix_web::http::header::HeaderValue;
use actix_web::middleware::from_fn;
use actix_web::{App as HttpApp, HttpServer, web};
use herald_kit::KitError;
use herald_kit::async_nats;
use std::sync::Arc;
use std::time::Duration;

/// Bodies larger than this are refused with 413 unless `policy::BODY_LIMITS` says otherwise.
pub const BODY_LIMIT: usize = policy::DEFAULT_BODY_LIMIT;

/// What every handler and the middleware share.
#[derive(Clone)]
pub struct State {
    pub nats: async_nats::Client,
    pub rpc_timeout: Duration,
    pub verifier: Arc<Verifier>,
    /// The active API keys, mirrored from auth's `auth-api-keys` bucket.
    pub api_keys: Arc<crate::api_keys::ApiKeyCache>,
    /// The tenant event streams (`GET /v1/events`) and their per-replica limit.
    pub events: Arc<EventFeeds>,
    /// The per-IP and per-tenant rate limits, shared with the other replicas.
    pub limiter: Arc<ratelimit::RateLimiter>,
}

/// What the edge middleware takes from the configuration (app data next to `State`).
#[derive(Debug, Clone)]
pub struct EdgeSettings {
    pub cors: Cors,
    /// The `Strict-Transport-Security` value; `None` when switched off.
    pub hsts: Option<HeaderValue>,
    pub body_timeout: Duration,
    pub handler_timeout: Duration,
}

impl EdgeSettings {
    pub fn from_config(config: &GatewayConfig) -> Self {
        let hsts = (config.hsts_max_age_secs > 0)
            .then(|| format!("max-age={}; includeSubDomains", config.hsts_max_age_secs))
            .and_then(|value| HeaderValue::from_str(&value).ok());
        Self {
            cors: config.cors.clone(),
            hsts,
            body_timeout: config.timeouts.body,
            handler_timeout: config.timeouts.handler,
        }
    }
}

/// The configured server on `listener`; it serves once awaited or spawned.
pub fn server(
    listener: std::net::TcpListener,
    state: State,
    config: &GatewayConfig,
    shutdown_timeout: Duration,
) -> Result<actix_web::dev::Server, KitError> {
    let state = web::Data::new(state);
    let settings = web::Data::new(EdgeSettings::from_config(config));
    let trusted = web::Data::new(config.trusted_proxies.clone());
    let server = HttpServer::new(move || {
        HttpApp::new()
            .app_data(state.clone())
            .app_data(settings.clone())
            .app_data(trusted.clone())
            .app_data(web::PayloadConfig::new(policy::max_body_limit()))
            .app_data(error::json_config())
            .app_data(error::query_config())
            .wrap(from_fn(edge::edge))
            .configure(routes::configure)
            .default_service(web::to(error::not_found))
    })
    .workers(config.http_workers)
    .client_request_timeout(config.timeouts.client_request)
    .client_disconnect_timeout(config.timeouts.client_disconnect)
    .keep_alive(config.timeouts.keep_alive)
    // The kit owns signals: SIGTERM cancels intake, which stops this server gracefully.
    .disable_signals()
    .shutdown_timeout(shutdown_timeout.as_secs().max(1))
    .listen(listener)
    .map_err(|error| KitError::Other(format!("http server: {error}")))?;
    Ok(server.run())
}
