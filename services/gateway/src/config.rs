//! The gateway's own settings (`HERALD_GATEWAY_*`, then `HERALD_*`); the common ones (NATS URL,
//! ops port, RPC timeout, shutdown deadline) come from the kit's `CommonConfig`.

use herald_kit::{ConfigError, Env};
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// `HTTP_ADDR`: where the public API listens.
    pub http_addr: SocketAddr,
    /// `HTTP_WORKERS`: HTTP worker threads (default: one per CPU).
    pub http_workers: usize,
    /// `SSE_HEARTBEAT_SECS`: how often an idle event stream sends a `: keep-alive` comment
    /// (default 15 s), so proxies keep it open and a vanished client is noticed.
    pub sse_heartbeat: Duration,
    /// `SSE_MAX_STREAMS`: event streams one replica holds open at once (default 1000); more
    /// are refused with 503.
    pub sse_max_streams: usize,
}

fn at_least_one(var: &str, value: usize) -> Result<usize, ConfigError> {
    if value == 0 {
        return Err(ConfigError {
            var: format!("HERALD_GATEWAY_{var}"),
            problem: "must be at least 1".into(),
        });
    }
    Ok(value)
}

impl GatewayConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let default_workers = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        let http_workers = at_least_one(
            "HTTP_WORKERS",
            env.optional("HTTP_WORKERS", default_workers)?,
        )?;
        let sse_heartbeat =
            env.optional_duration_secs("SSE_HEARTBEAT_SECS", Duration::from_secs(15))?;
        if sse_heartbeat < Duration::from_millis(100) {
            return Err(ConfigError {
                var: "HERALD_GATEWAY_SSE_HEARTBEAT_SECS".into(),
                problem: "must be at least 0.1 seconds".into(),
            });
        }
        Ok(Self {
            http_addr: env.optional("HTTP_ADDR", ([0, 0, 0, 0], 8080).into())?,
            http_workers,
            sse_heartbeat,
            sse_max_streams: at_least_one(
                "SSE_MAX_STREAMS",
                env.optional("SSE_MAX_STREAMS", 1000)?,
            )?,
        })
    }
}
