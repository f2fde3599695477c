//! The gateway's own settings (`HERALD_GATEWAY_*`, then `HERALD_*`); the common ones (NATS URL,
//! ops port, RPC timeout, shutdown deadline) come from the kit's `CommonConfig`.

use crate::http::client_ip::TrustedProxies;
use crate::http::cors::Cors;
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
    /// `TRUSTED_PROXIES`: CIDRs of the proxies whose `X-Forwarded-For` is believed (default
    /// none: the TCP peer is the client).
    pub trusted_proxies: TrustedProxies,
    /// `CORS_ORIGINS`: browser origins allowed to call the API (default none: no CORS headers).
    pub cors: Cors,
    /// `HSTS_MAX_AGE_SECS`: `Strict-Transport-Security` max-age (default one year; 0 = not sent).
    pub hsts_max_age_secs: u64,
    pub timeouts: Timeouts,
    pub rate: RateLimits,
}

/// How long the gateway waits on a client, and on its own handlers.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// `CLIENT_REQUEST_TIMEOUT_SECS`: the request head must arrive within this (default 5 s);
    /// else the connection is answered 408 and closed.
    pub client_request: Duration,
    /// `CLIENT_DISCONNECT_TIMEOUT_SECS`: how long a closing connection may take (default 2 s).
    pub client_disconnect: Duration,
    /// `KEEP_ALIVE_SECS`: idle time before a keep-alive connection is closed (default 5 s).
    pub keep_alive: Duration,
    /// `BODY_TIMEOUT_SECS`: the whole request body must arrive within this (default 10 s);
    /// else 408.
    pub body: Duration,
    /// `HANDLER_TIMEOUT_SECS`: a response must be ready within this (default 30 s); else 504.
    /// `GET /v1/events` is exempt: it streams for as long as the client stays.
    pub handler: Duration,
}

/// Requests allowed per window, per class; 0 switches a class off. Counted across every
/// gateway replica in the `gateway-ratelimits` KV bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// `RATE_WINDOW_SECS`: the fixed window (default 60 s).
    pub window: Duration,
    /// `RATE_IP`: every request from one client IP (default 1200).
    pub ip: u64,
    /// `RATE_AUTH_IP`: `/v1/auth/*` requests from one client IP (default 60).
    pub auth_ip: u64,
    /// `RATE_TENANT`: authenticated requests of one tenant (default 3000).
    pub tenant: u64,
    /// `RATE_API_KEY`: requests made with one API key (default 600); they count against
    /// their tenant's limit too.
    pub api_key: u64,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(60),
            ip: 1200,
            auth_ip: 60,
            tenant: 3000,
            api_key: 600,
        }
    }
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

/// A duration in seconds within `[min, max]`.
fn bounded_secs(
    env: &Env,
    var: &str,
    default: Duration,
    min: Duration,
    max: Duration,
) -> Result<Duration, ConfigError> {
    let value = env.optional_duration_secs(var, default)?;
    if value < min || value > max {
        return Err(ConfigError {
            var: format!("HERALD_GATEWAY_{var}"),
            problem: format!(
                "must be between {} and {} seconds",
                min.as_secs_f64(),
                max.as_secs_f64()
            ),
        });
    }
    Ok(value)
}

impl Timeouts {
    fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let (tenth, hour) = (Duration::from_millis(100), Duration::from_secs(3600));
        Ok(Self {
            client_request: bounded_secs(
                env,
                "CLIENT_REQUEST_TIMEOUT_SECS",
                Duration::from_secs(5),
                tenth,
                Duration::from_secs(300),
            )?,
            client_disconnect: bounded_secs(
                env,
                "CLIENT_DISCONNECT_TIMEOUT_SECS",
                Duration::from_secs(2),
                tenth,
                Duration::from_secs(300),
            )?,
            keep_alive: bounded_secs(
                env,
                "KEEP_ALIVE_SECS",
                Duration::from_secs(5),
                Duration::ZERO,
                hour,
            )?,
            body: bounded_secs(
                env,
                "BODY_TIMEOUT_SECS",
                Duration::from_secs(10),
                tenth,
                Duration::from_secs(600),
            )?,
            handler: bounded_secs(
                env,
                "HANDLER_TIMEOUT_SECS",
                Duration::from_secs(30),
                tenth,
                hour,
            )?,
        })
    }
}

impl RateLimits {
    fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        Ok(Self {
            window: bounded_secs(
                env,
                "RATE_WINDOW_SECS",
                defaults.window,
                Duration::from_secs(1),
                Duration::from_secs(86_400),
            )?,
            ip: env.optional("RATE_IP", defaults.ip)?,
            auth_ip: env.optional("RATE_AUTH_IP", defaults.auth_ip)?,
            tenant: env.optional("RATE_TENANT", defaults.tenant)?,
            api_key: env.optional("RATE_API_KEY", defaults.api_key)?,
        })
    }
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
        let trusted_proxies = TrustedProxies::parse(
            &env.optional("TRUSTED_PROXIES", String::new())?,
        )
        .map_err(|problem| ConfigError {
            var: "HERALD_GATEWAY_TRUSTED_PROXIES".into(),
            problem,
        })?;
        let cors =
            Cors::parse(&env.optional("CORS_ORIGINS", String::new())?).map_err(|problem| {
                ConfigError {
                    var: "HERALD_GATEWAY_CORS_ORIGINS".into(),
                    problem,
                }
            })?;
        Ok(Self {
            http_addr: env.optional("HTTP_ADDR", ([0, 0, 0, 0], 8080).into())?,
            http_workers,
            sse_heartbeat,
            sse_max_streams: at_least_one(
                "SSE_MAX_STREAMS",
                env.optional("SSE_MAX_STREAMS", 1000)?,
            )?,
            trusted_proxies,
            cors,
            hsts_max_age_secs: env.optional("HSTS_MAX_AGE_SECS", 31_536_000)?,
            timeouts: Timeouts::from_env(env)?,
            rate: RateLimits::from_env(env)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<GatewayConfig, ConfigError> {
        GatewayConfig::from_env(&Env::from_pairs(pairs.iter().copied()).scoped("gateway"))
    }

    #[test]
    fn defaults_are_valid() {
        let config = config(&[]).unwrap();
        assert_eq!(config.rate, RateLimits::default());
        assert_eq!(config.timeouts.handler, Duration::from_secs(30));
        assert_eq!(config.hsts_max_age_secs, 31_536_000);
    }

    #[test]
    fn refuses_bad_values_naming_the_variable() {
        for (var, value) in [
            ("HERALD_GATEWAY_HANDLER_TIMEOUT_SECS", "0"),
            ("HERALD_GATEWAY_CLIENT_REQUEST_TIMEOUT_SECS", "9999"),
            ("HERALD_GATEWAY_RATE_WINDOW_SECS", "0"),
            ("HERALD_GATEWAY_RATE_IP", "-1"),
            ("HERALD_GATEWAY_TRUSTED_PROXIES", "10.0.0.0/33"),
            (
                "HERALD_GATEWAY_CORS_ORIGINS",
                "https://app.example.com/path",
            ),
        ] {
            let error = config(&[(var, value)]).unwrap_err();
            assert_eq!(error.var, var, "{value}");
        }
    }
}
