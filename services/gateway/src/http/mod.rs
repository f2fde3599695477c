//! The public HTTP API: the server, its middleware (`edge`), the route policy table, the
//! uniform errors and one file per resource under `routes/`.

pub mod client_ip;
pub mod ctx;
pub mod edge;
pub mod error;
pub mod policy;
pub mod routes;

use crate::config::GatewayConfig;
use crate::events::EventFeeds;
use crate::token::Verifier;
use actix_web::middleware::from_fn;
use actix_web::{App as HttpApp, HttpServer, web};
use herald_kit::KitError;
use herald_kit::async_nats;
use std::sync::Arc;
use std::time::Duration;

/// JSON bodies larger than this are refused with 413.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// What every handler and the middleware share.
#[derive(Clone)]
pub struct State {
    pub nats: async_nats::Client,
    pub rpc_timeout: Duration,
    pub verifier: Arc<Verifier>,
    /// The tenant event streams (`GET /v1/events`) and their per-replica limit.
    pub events: Arc<EventFeeds>,
}

/// The configured server on `listener`; it serves once awaited or spawned.
pub fn server(
    listener: std::net::TcpListener,
    state: State,
    config: &GatewayConfig,
    shutdown_timeout: Duration,
) -> Result<actix_web::dev::Server, KitError> {
    let state = web::Data::new(state);
    let server = HttpServer::new(move || {
        HttpApp::new()
            .app_data(state.clone())
            .app_data(error::json_config())
            .app_data(error::query_config())
            .wrap(from_fn(edge::edge))
            .configure(routes::configure)
            .default_service(web::to(error::not_found))
    })
    .workers(config.http_workers)
    // The kit owns signals: SIGTERM cancels intake, which stops this server gracefully.
    .disable_signals()
    .shutdown_timeout(shutdown_timeout.as_secs().max(1))
    .listen(listener)
    .map_err(|error| KitError::Other(format!("http server: {error}")))?;
    Ok(server.run())
}
