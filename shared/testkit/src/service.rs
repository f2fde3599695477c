//! Running services in-process in tests: the environment they need, a handle that stops them
//! gracefully, and a bounded wait for a condition (never a timing assertion).

use herald_contracts::TenantId;
use herald_contracts::rpc::{Identity, Role};
use herald_kit::{App, Env, KitError};
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The publisher's token keyring in tests (`<key_id>:<base64 32-byte key>`): a fixed key so a
/// publisher restarted on the same database opens what it sealed. Never used outside tests.
pub const TEST_TOKEN_KEYS: &str = "test:dGVzdC1vbmx5LXRva2VuLWtleS0zMi1ieXRlcyEhIT0=";

/// The environment for a service under test: NATS, optionally a database, an ephemeral ops
/// port, quiet logs, short sweeps, the publisher's test token keyring; `extra` overrides or
/// adds.
pub fn service_env(nats_url: &str, database_url: Option<&str>, extra: &[(&str, &str)]) -> Env {
    let mut pairs: Vec<(String, String)> = vec![
        ("HERALD_NATS_URL".into(), nats_url.into()),
        ("HERALD_OPS_ADDR".into(), "127.0.0.1:0".into()),
        (
            "HERALD_LOG".into(),
            std::env::var("HERALD_TEST_LOG").unwrap_or_else(|_| "warn".into()),
        ),
        ("HERALD_SHUTDOWN_TIMEOUT_SECS".into(), "5".into()),
        ("HERALD_OUTBOX_SWEEP_SECS".into(), "1".into()),
        ("HERALD_PUBLISHER_TOKEN_KEYS".into(), TEST_TOKEN_KEYS.into()),
    ];
    if let Some(url) = database_url {
        pairs.push(("HERALD_DATABASE_URL".into(), url.into()));
    }
    for (key, value) in extra {
        pairs.retain(|(k, _)| k != key);
        pairs.push(((*key).into(), (*value).into()));
    }
    Env::from_pairs(pairs)
}

/// A verified identity as the gateway would pass it.
pub fn identity(tenant: TenantId, role: Role) -> Identity {
    Identity {
        tenant_id: tenant,
        user_id: herald_contracts::UserId::new(),
        role,
        api_key_id: None,
    }
}

/// A service running in this process until `stop` (or drop, which cancels without waiting).
pub struct Running {
    shutdown: CancellationToken,
    task: Option<tokio::task::JoinHandle<Result<(), KitError>>>,
    pub ops_addr: SocketAddr,
}

impl Running {
    pub fn spawn(app: App) -> Self {
        let shutdown = app.shutdown_token();
        let ops_addr = app.ops_addr();
        Self {
            shutdown,
            task: Some(tokio::spawn(app.run())),
            ops_addr,
        }
    }

    pub fn ops_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.ops_addr)
    }

    /// Graceful shutdown; returns the service's result.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            task.await??;
        }
        Ok(())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// How long `check` took to come true, polled every 10 ms, for at most `limit` (a guard
/// against hanging, not a performance bound: tests print the figure, they never assert on it).
pub async fn time_until<F, Fut>(
    what: &str,
    limit: Duration,
    mut check: F,
) -> anyhow::Result<Duration>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = tokio::time::Instant::now();
    loop {
        if check().await {
            let took = started.elapsed();
            eprintln!("{what}: {} ms", took.as_millis());
            return Ok(took);
        }
        if started.elapsed() >= limit {
            anyhow::bail!("timed out after {limit:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Polls `check` until it yields `Some`, for at most `limit`; the error names `what`.
pub async fn wait_for<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return Ok(value);
        }
        if tokio::time::Instant::now() >= deadline {
            anyhow::bail!("timed out after {limit:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
