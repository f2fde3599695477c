//! The gateway's own settings (`HERALD_GATEWAY_*`, then `HERALD_*`); the common ones (NATS URL,
//! ops port, RPC timeout, shutdown deadline) come from the kit's `CommonConfig`.

use herald_kit::{ConfigError, Env};
use std::net::SocketAddr;

#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// `HTTP_ADDR`: where the public API listens.
    pub http_addr: SocketAddr,
    /// `HTTP_WORKERS`: HTTP worker threads (default: one per CPU).
    pub http_workers: usize,
}

impl GatewayConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let default_workers = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        let http_workers: usize = env.optional("HTTP_WORKERS", default_workers)?;
        if http_workers == 0 {
            return Err(ConfigError {
                var: "HERALD_GATEWAY_HTTP_WORKERS".into(),
                problem: "must be at least 1".into(),
            });
        }
        Ok(Self {
            http_addr: env.optional("HTTP_ADDR", ([0, 0, 0, 0], 8080).into())?,
            http_workers,
        })
    }
}
