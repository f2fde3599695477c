//! herald-sandbox: a local stand-in for the social networks Herald publishes to.
//!
//! The real networks cannot be reached from our machines, so adapters, services and tests
//! talk to this server instead. It speaks each platform's wire format (Mastodon for now; every
//! platform is a sibling module with its own routes, errors and in-memory store) and adds an
//! admin API under `/__sandbox/` that shows what was accepted (the ledger), injects faults and
//! resets state. State lives in memory because it stands in for a third party: nothing of ours
//! should depend on it surviving a restart.
//!
//! Embed it in-process on port 0:
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
//! let sandbox = herald_sandbox::start(listener).await?;
//! println!("{}", sandbox.base_url());
//! sandbox.stop().await?;
//! # Ok(()) }
//! ```

mod admin;
pub mod bluesky;
mod conn;
pub mod facebook;
mod faults;
pub mod instagram;
mod ledger;
pub mod linkedin;
pub mod mastodon;
mod platform;
mod state;
pub mod threads;
mod time;
mod upload;
pub mod x;

use std::net::{SocketAddr, TcpListener};
use std::time::Instant;

use actix_web::dev::{ServerHandle, Service as _};
use actix_web::{App, HttpResponse, HttpServer, web};
use tokio::task::JoinHandle;

pub use faults::{Faults, FaultsError};
pub use ledger::{LedgerEntry, LedgerMedia, LedgerPost};
pub use platform::{Platform, UnknownPlatform};

use state::Shared;

/// How long a graceful stop waits for in-flight requests (a latency fault can hold some).
const SHUTDOWN_TIMEOUT_SECS: u64 = 5;

/// Configures a sandbox server before it starts.
#[derive(Debug, Clone)]
pub struct Sandbox {
    workers: usize,
}

impl Default for Sandbox {
    fn default() -> Self {
        // Two workers are plenty for a stand-in and keep many parallel test sandboxes cheap.
        Self { workers: 2 }
    }
}

impl Sandbox {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of actix worker threads (at least one).
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers.max(1);
        self
    }

    /// Serves the sandbox on `listener` in the background of the current tokio runtime.
    pub async fn start(self, listener: TcpListener) -> std::io::Result<SandboxHandle> {
        let addr = listener.local_addr()?;
        let shared = Shared::default();
        let data = web::Data::new(shared.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(admin::json_config())
                .app_data(admin::query_config())
                .wrap_fn(|req, srv| {
                    let started = Instant::now();
                    let method = req.method().clone();
                    // The path only: query strings may carry tokens (`access_token=`).
                    let path = req.path().to_owned();
                    let response = srv.call(req);
                    async move {
                        let response = response.await?;
                        tracing::info!(
                            http.method = %method,
                            http.path = %path,
                            http.status = response.status().as_u16(),
                            duration_ms = started.elapsed().as_millis() as u64,
                            "sandbox request"
                        );
                        Ok(response)
                    }
                })
                .configure(mastodon::configure)
                .configure(bluesky::configure)
                .configure(x::configure)
                .configure(linkedin::configure)
                .configure(facebook::configure)
                .configure(instagram::configure)
                .configure(threads::configure)
                .configure(admin::configure)
                .default_service(web::to(|| async {
                    HttpResponse::NotFound().json(serde_json::json!({ "error": "Not found" }))
                }))
        })
        .on_connect(conn::on_connect)
        .workers(self.workers)
        .shutdown_timeout(SHUTDOWN_TIMEOUT_SECS)
        // The embedding program owns signals; a test runner must not be stopped by SIGINT here.
        .disable_signals()
        .listen(listener)?
        .run();
        let server_handle = server.handle();
        let task = tokio::spawn(server);
        Ok(SandboxHandle {
            addr,
            base_url: format!("http://{addr}"),
            server: server_handle,
            task: Some(task),
            shared,
        })
    }
}

/// Starts a sandbox with default settings; see [`Sandbox::start`].
pub async fn start(listener: TcpListener) -> std::io::Result<SandboxHandle> {
    Sandbox::new().start(listener).await
}

/// A running sandbox. Dropping it stops the server without waiting; prefer [`SandboxHandle::stop`].
pub struct SandboxHandle {
    addr: SocketAddr,
    base_url: String,
    server: ServerHandle,
    task: Option<JoinHandle<std::io::Result<()>>>,
    shared: Shared,
}

impl SandboxHandle {
    /// `http://<ip>:<port>` of the listener, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every accepted post, oldest first (same data as `GET /__sandbox/ledger`).
    pub fn ledger(&self) -> Vec<LedgerEntry> {
        self.shared
            .lock()
            .ledger
            .entries(&ledger::LedgerFilter::default())
    }

    /// Every accepted post with the images it carries, oldest first.
    pub fn posts(&self) -> Vec<LedgerPost> {
        self.shared
            .lock()
            .ledger
            .posts(&ledger::LedgerFilter::default())
    }

    /// Clears all state, as `POST /__sandbox/reset` does.
    pub fn reset(&self) {
        self.shared.lock().reset();
    }

    /// Sets the faults applied to `platform`'s publishing endpoint.
    pub fn set_faults(&self, platform: Platform, faults: Faults) -> Result<(), FaultsError> {
        faults.validate()?;
        self.shared.lock().faults.set(platform, faults);
        Ok(())
    }

    /// Stops accepting connections, lets in-flight requests finish (up to a few seconds) and
    /// waits for the server to end.
    pub async fn stop(mut self) -> std::io::Result<()> {
        self.server.stop(true).await;
        match self.task.take() {
            Some(task) => task.await.map_err(std::io::Error::other)?,
            None => Ok(()),
        }
    }
}

impl Drop for SandboxHandle {
    fn drop(&mut self) {
        if self.task.is_some() {
            // `stop` sends its command eagerly; the returned future only waits for completion.
            let _completion = self.server.stop(false);
        }
    }
}
