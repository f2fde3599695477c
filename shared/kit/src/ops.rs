//! The ops port every service exposes: `/livez` (the process answers), `/readyz` (NATS
//! connected, Postgres reachable, its streams and consumers exist, not shutting down) and
//! `/metrics` (Prometheus text).

use crate::db::Db;
use actix_web::{App as HttpApp, HttpResponse, HttpServer, web};
use async_nats::jetstream;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

static PROMETHEUS: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the Prometheus recorder once per process.
pub fn metrics_handle() -> Option<PrometheusHandle> {
    PROMETHEUS
        .get_or_init(|| PrometheusBuilder::new().install_recorder().ok())
        .clone()
}

#[derive(Clone)]
pub struct OpsState {
    pub ready: Arc<AtomicBool>,
    pub nats: async_nats::Client,
    pub js: jetstream::Context,
    pub db: Option<Db>,
    pub streams: Vec<&'static str>,
    /// `(stream, durable)` pairs registered so far.
    pub consumers: Arc<Mutex<Vec<(&'static str, String)>>>,
}

impl OpsState {
    async fn streams_present(&self) -> bool {
        for stream in &self.streams {
            if self.js.get_stream(stream).await.is_err() {
                return false;
            }
        }
        let consumers = self.consumers.lock().map(|c| c.clone()).unwrap_or_default();
        for (stream, durable) in consumers {
            let Ok(stream) = self.js.get_stream(stream).await else {
                return false;
            };
            if stream.consumer_info(&durable).await.is_err() {
                return false;
            }
        }
        true
    }

    async fn readiness(&self) -> (bool, serde_json::Value) {
        let accepting = self.ready.load(Ordering::SeqCst);
        let nats = crate::nats::is_connected(&self.nats);
        let streams = nats
            && tokio::time::timeout(Duration::from_secs(3), self.streams_present())
                .await
                .unwrap_or(false);
        let postgres = match &self.db {
            Some(db) => Some(db.ping().await),
            None => None,
        };
        let ok = accepting && nats && streams && postgres.unwrap_or(true);
        (
            ok,
            json!({
                "status": if ok { "ready" } else { "not_ready" },
                "checks": {
                    "accepting_work": accepting,
                    "nats": nats,
                    "streams": streams,
                    "postgres": postgres,
                }
            }),
        )
    }
}

async fn livez() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "live"}))
}

async fn readyz(state: web::Data<OpsState>) -> HttpResponse {
    let (ok, body) = state.readiness().await;
    if ok {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

async fn metrics_text() -> HttpResponse {
    match metrics_handle() {
        Some(handle) => HttpResponse::Ok()
            .content_type("text/plain; version=0.0.4")
            .body(handle.render()),
        None => HttpResponse::ServiceUnavailable().finish(),
    }
}

/// Binds the ops port and serves it in the background; returns the bound address.
pub fn start(
    addr: SocketAddr,
    state: OpsState,
) -> Result<(SocketAddr, actix_web::dev::ServerHandle), crate::KitError> {
    let server = HttpServer::new(move || {
        HttpApp::new()
            .app_data(web::Data::new(state.clone()))
            .route("/livez", web::get().to(livez))
            .route("/readyz", web::get().to(readyz))
            .route("/metrics", web::get().to(metrics_text))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(1)
    .bind(addr)
    .map_err(|error| crate::KitError::Ops(format!("cannot bind {addr}: {error}")))?;
    let bound = server
        .addrs()
        .first()
        .copied()
        .ok_or_else(|| crate::KitError::Ops("no address bound".into()))?;
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(server);
    Ok((bound, handle))
}
