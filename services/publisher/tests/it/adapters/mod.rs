//! Each adapter against the sandbox: classification of every outcome and reconciliation after
//! ambiguous ones. No NATS or Postgres here: an adapter is an HTTP client.

mod bluesky;
mod facebook;
mod instagram;
mod linkedin;
mod mastodon;
mod threads;
mod x;

use herald_publisher::adapters::{Adapters, PlatformConfig};

/// A sandbox and every adapter configured to call it (each platform under its own prefix).
#[allow(dead_code)]
pub struct Harness {
    pub sandbox: herald_sandbox::SandboxHandle,
    pub config: PlatformConfig,
    pub adapters: Adapters,
    pub http: reqwest::Client,
}

impl Harness {
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(&[]).await
    }

    /// Extra publisher-scoped settings, e.g. `("MASTODON_IDEMPOTENCY_WINDOW_SECS", "0")`.
    pub async fn start_with(extra: &[(&str, &str)]) -> anyhow::Result<Self> {
        let sandbox = herald_sandbox::start(std::net::TcpListener::bind("127.0.0.1:0")?).await?;
        let base = sandbox.base_url().to_owned();
        let mut pairs: Vec<(String, String)> = herald_contracts::messages::Platform::ALL
            .iter()
            .filter(|p| **p != herald_contracts::messages::Platform::Mastodon)
            .map(|p| {
                (
                    format!("HERALD_PUBLISHER_{}_URL", p.as_str().to_uppercase()),
                    format!("{base}/{}", p.as_str()),
                )
            })
            .collect();
        pairs.extend(
            extra
                .iter()
                .map(|(k, v)| (format!("HERALD_PUBLISHER_{k}"), (*v).to_owned())),
        );
        let env = herald_kit::Env::from_pairs(pairs).scoped("publisher");
        let config = PlatformConfig::from_env(&env)?;
        let http = herald_kit::http::client(std::time::Duration::from_secs(5))?;
        let adapters = Adapters::new(http.clone(), &config);
        Ok(Self {
            sandbox,
            config,
            adapters,
            http,
        })
    }
}
