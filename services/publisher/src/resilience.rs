//! Backoff with jitter between attempts, and a circuit breaker per platform.
//!
//! The breaker lives in each replica's memory on purpose: it protects this process from
//! hammering a platform that is failing for it, and it holds no fact anyone else needs (the
//! targets' waits are in Postgres). A replica that restarts starts closed and learns again
//! within `threshold` calls.

use chrono::{DateTime, Utc};
use herald_contracts::messages::Platform;
use rand::Rng;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// Exponential backoff: `base · 2^(attempt-1)`, capped, with "equal jitter" (half fixed,
/// half random) so retries of many targets spread out instead of arriving together.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
}

impl Backoff {
    pub fn delay(&self, attempt: i32) -> Duration {
        let exponent = attempt.clamp(1, 20) as u32 - 1;
        let full = self
            .base
            .saturating_mul(1u32 << exponent.min(16))
            .min(self.cap);
        let half = full / 2;
        let jitter = rand::thread_rng().gen_range(0..=half.as_millis() as u64);
        half + Duration::from_millis(jitter)
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Circuit {
    consecutive_failures: u32,
    open_until: Option<DateTime<Utc>>,
}

/// Opens after `threshold` consecutive failures (5xx, timeouts, dropped connections) of a
/// platform and stays open for `open_for`; then one call is let through (half-open) and its
/// outcome closes or reopens it. Rate limits and refusals are not failures of the platform.
pub struct Breakers {
    threshold: u32,
    open_for: chrono::Duration,
    circuits: Mutex<HashMap<Platform, Circuit>>,
}

impl Breakers {
    pub fn new(threshold: u32, open_for: Duration) -> Self {
        Self {
            threshold: threshold.max(1),
            open_for: chrono::Duration::from_std(open_for).unwrap_or(chrono::Duration::seconds(30)),
            circuits: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Platform, Circuit>> {
        self.circuits
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Platforms whose circuit is open now, with when it half-opens.
    pub fn open(&self) -> Vec<(Platform, DateTime<Utc>)> {
        let now = Utc::now();
        self.lock()
            .iter()
            .filter_map(|(platform, circuit)| {
                circuit
                    .open_until
                    .filter(|until| *until > now)
                    .map(|until| (*platform, until))
            })
            .collect()
    }

    pub fn success(&self, platform: Platform) {
        let mut circuits = self.lock();
        let circuit = circuits.entry(platform).or_default();
        if circuit.open_until.is_some() {
            tracing::info!(platform = %platform, "circuit closed");
        }
        *circuit = Circuit::default();
        metrics::gauge!("herald_circuit_open", "platform" => platform.as_str()).set(0.0);
    }

    pub fn failure(&self, platform: Platform) {
        let mut circuits = self.lock();
        let circuit = circuits.entry(platform).or_default();
        circuit.consecutive_failures += 1;
        if circuit.consecutive_failures >= self.threshold {
            let until = Utc::now() + self.open_for;
            if circuit.open_until.is_none_or(|u| u < Utc::now()) {
                tracing::warn!(platform = %platform, failures = circuit.consecutive_failures, open_until = %until, "circuit opened");
                metrics::counter!("herald_circuit_opened_total", "platform" => platform.as_str())
                    .increment(1);
            }
            circuit.open_until = Some(until);
            metrics::gauge!("herald_circuit_open", "platform" => platform.as_str()).set(1.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_caps_and_jitters_within_bounds() {
        let backoff = Backoff {
            base: Duration::from_secs(2),
            cap: Duration::from_secs(60),
        };
        for _ in 0..100 {
            let first = backoff.delay(1);
            assert!(first >= Duration::from_secs(1) && first <= Duration::from_secs(2));
            let fourth = backoff.delay(4);
            assert!(fourth >= Duration::from_secs(8) && fourth <= Duration::from_secs(16));
            let late = backoff.delay(30);
            assert!(late >= Duration::from_secs(30) && late <= Duration::from_secs(60));
        }
    }

    #[test]
    fn breaker_opens_after_the_threshold_and_closes_on_success() {
        let breakers = Breakers::new(3, Duration::from_secs(30));
        breakers.failure(Platform::X);
        breakers.failure(Platform::X);
        assert!(breakers.open().is_empty());
        breakers.failure(Platform::X);
        let open: Vec<Platform> = breakers.open().into_iter().map(|(p, _)| p).collect();
        assert_eq!(open, [Platform::X]);
        breakers.success(Platform::X);
        assert!(breakers.open().is_empty());
    }
}
