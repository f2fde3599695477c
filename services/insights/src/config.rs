//! insights' own settings, read and validated before anything connects.

use herald_kit::{ConfigError, Env};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct InsightsConfig {
    /// `HERALD_INSIGHTS_FETCH_TIMEOUT_SECS`: the whole of one platform request.
    pub fetch_timeout: Duration,
    /// `HERALD_INSIGHTS_COLLECT_CONCURRENCY`: collection messages handled at once per replica
    /// (bounds the outbound requests; also capped by `HERALD_CONSUMER_CONCURRENCY`).
    pub collect_concurrency: usize,
}

impl InsightsConfig {
    /// `env` is scoped to insights (`HERALD_INSIGHTS_*` first).
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let fetch_timeout =
            env.optional_duration_secs("FETCH_TIMEOUT_SECS", Duration::from_secs(10))?;
        if fetch_timeout < Duration::from_millis(100) || fetch_timeout > Duration::from_secs(60) {
            return Err(ConfigError {
                var: "HERALD_INSIGHTS_FETCH_TIMEOUT_SECS".into(),
                problem: "must be between 0.1 and 60".into(),
            });
        }
        let collect_concurrency: usize = env.optional("COLLECT_CONCURRENCY", 16)?;
        if collect_concurrency == 0 {
            return Err(ConfigError {
                var: "HERALD_INSIGHTS_COLLECT_CONCURRENCY".into(),
                problem: "must be at least 1".into(),
            });
        }
        Ok(Self {
            fetch_timeout,
            collect_concurrency,
        })
    }
}
