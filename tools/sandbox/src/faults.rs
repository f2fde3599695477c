//! Faults injected into a platform's publishing endpoint, so adapters can be tested against
//! slow, failing, throttling and ambiguous (committed but unanswered) responses.

use std::collections::HashMap;

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::platform::Platform;

/// Longest latency accepted: long enough to trip any client timeout, short enough that a
/// typo cannot park a worker for hours.
const MAX_LATENCY_MS: u64 = 600_000;

/// Rates are probabilities in 0..=1, rolled independently for each request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Sleep this long before handling the request.
    pub latency_ms: u64,
    /// Answer 503 before doing anything.
    pub error_rate: f64,
    /// Answer 429 with exhausted `X-RateLimit-*` headers before doing anything.
    pub rate_limit_rate: f64,
    /// Accept the post, then cut the connection so the client never sees the answer.
    pub drop_after_commit_rate: f64,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FaultsError {
    #[error("{field} must be between 0 and 1, got {value}")]
    RateOutOfRange { field: &'static str, value: f64 },
    #[error("latency_ms must be at most {MAX_LATENCY_MS}, got {0}")]
    LatencyTooLong(u64),
}

impl Faults {
    pub fn validate(&self) -> Result<(), FaultsError> {
        let rates = [
            ("error_rate", self.error_rate),
            ("rate_limit_rate", self.rate_limit_rate),
            ("drop_after_commit_rate", self.drop_after_commit_rate),
        ];
        for (field, value) in rates {
            // `contains` is false for NaN, so NaN is rejected too.
            if !(0.0..=1.0).contains(&value) {
                return Err(FaultsError::RateOutOfRange { field, value });
            }
        }
        if self.latency_ms > MAX_LATENCY_MS {
            return Err(FaultsError::LatencyTooLong(self.latency_ms));
        }
        Ok(())
    }
}

/// The faults set for `platform`'s publishing endpoint, after sleeping their latency: the
/// first thing every publishing handler does, before it even reads the request.
pub(crate) async fn delayed(shared: &crate::state::Shared, platform: Platform) -> Faults {
    let faults = shared.lock().faults.get(platform);
    if faults.latency_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(faults.latency_ms)).await;
    }
    faults
}

/// True with probability `rate`: 0 never fires, 1 always does.
pub(crate) fn roll(rate: f64) -> bool {
    rate > 0.0 && rand::thread_rng().r#gen::<f64>() < rate
}

#[derive(Debug, Default)]
pub(crate) struct FaultTable {
    by_platform: HashMap<Platform, Faults>,
}

impl FaultTable {
    pub(crate) fn get(&self, platform: Platform) -> Faults {
        self.by_platform.get(&platform).copied().unwrap_or_default()
    }

    pub(crate) fn set(&mut self, platform: Platform, faults: Faults) {
        self.by_platform.insert(platform, faults);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn rejects_rates_outside_zero_to_one() {
        let faults = Faults {
            error_rate: 1.5,
            ..Faults::default()
        };
        assert!(faults.validate().is_err());
        let nan = Faults {
            drop_after_commit_rate: f64::NAN,
            ..Faults::default()
        };
        assert!(nan.validate().is_err());
        assert!(Faults::default().validate().is_ok());
    }

    #[test]
    fn roll_honours_the_extremes() {
        assert!((0..1000).all(|_| !roll(0.0)));
        assert!((0..1000).all(|_| roll(1.0)));
    }
}
