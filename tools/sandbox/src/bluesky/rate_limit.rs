//! The PDS's per-account rate limits and the `RateLimit-*` headers it sends.
//!
//! As in `@atproto/xrpc-server`: a route consumes points from every limiter that applies and
//! reports the tightest one as `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset`
//! (unix seconds) and `RateLimit-Policy` (`<limit>;w=<window seconds>`). Windows here are
//! fixed and aligned to the epoch, which is close enough to `rate-limiter-flexible`'s.

use std::collections::HashMap;

use actix_web::HttpResponse;
use actix_web::http::header::{HeaderName, HeaderValue};
use chrono::{DateTime, Utc};

#[derive(Debug, Clone, Copy)]
pub(crate) struct Limit {
    name: &'static str,
    points: u32,
    window_secs: i64,
}

/// Repository writes: 5,000 points per hour and 35,000 per day per account; a create costs
/// 3 points, an update (putRecord) 2.
pub(crate) const REPO_WRITES: [Limit; 2] = [
    Limit {
        name: "repo-write-hour",
        points: 5000,
        window_secs: 3600,
    },
    Limit {
        name: "repo-write-day",
        points: 35_000,
        window_secs: 86_400,
    },
];

/// `createSession`: 30 per 5 minutes and 300 per day per identifier.
pub(crate) const SESSIONS: [Limit; 2] = [
    Limit {
        name: "auth-5m",
        points: 30,
        window_secs: 300,
    },
    Limit {
        name: "auth-day",
        points: 300,
        window_secs: 86_400,
    },
];

pub(crate) const CREATE_POINTS: u32 = 3;
pub(crate) const PUT_POINTS: u32 = 2;

/// One limiter's state after a request, as the headers report it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Status {
    pub(crate) limit: u32,
    pub(crate) window_secs: i64,
    pub(crate) remaining: u32,
    /// Unix seconds.
    pub(crate) reset: i64,
}

impl Status {
    pub(crate) fn exhausted(self) -> Status {
        Status {
            remaining: 0,
            ..self
        }
    }

    /// Nothing left until `reset` (unix seconds): a burst limit shorter than the window.
    pub(crate) fn exhausted_until(self, reset: i64) -> Status {
        Status {
            remaining: 0,
            reset,
            ..self
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct RateLimiter {
    /// (key, limiter name) → (window index, points used in that window)
    used: HashMap<(String, &'static str), (i64, u32)>,
}

impl RateLimiter {
    fn status(&self, key: &str, limit: Limit, now: DateTime<Utc>) -> (Status, u32) {
        let index = now.timestamp().div_euclid(limit.window_secs);
        let used = match self.used.get(&(key.to_owned(), limit.name)) {
            Some(&(counted, used)) if counted == index => used,
            _ => 0,
        };
        let status = Status {
            limit: limit.points,
            window_secs: limit.window_secs,
            remaining: limit.points.saturating_sub(used),
            reset: (index + 1).saturating_mul(limit.window_secs),
        };
        (status, used)
    }

    /// The tightest of `limits` as it stands, without consuming anything.
    pub(crate) fn peek(&self, key: &str, limits: &[Limit], now: DateTime<Utc>) -> Option<Status> {
        limits
            .iter()
            .map(|&limit| self.status(key, limit, now).0)
            .min_by_key(|s| s.remaining)
    }

    /// Consumes `points` from every limiter, or none when one of them cannot afford it
    /// (`Err` reports that one). `Ok` reports the tightest after consuming.
    pub(crate) fn consume(
        &mut self,
        key: &str,
        limits: &[Limit],
        points: u32,
        now: DateTime<Utc>,
    ) -> Result<Option<Status>, Status> {
        for &limit in limits {
            let (status, _) = self.status(key, limit, now);
            if status.remaining < points {
                return Err(status.exhausted());
            }
        }
        let mut tightest: Option<Status> = None;
        for &limit in limits {
            let (status, used) = self.status(key, limit, now);
            let index = now.timestamp().div_euclid(limit.window_secs);
            self.used
                .insert((key.to_owned(), limit.name), (index, used + points));
            let after = Status {
                remaining: status.remaining - points,
                ..status
            };
            if tightest.is_none_or(|t| after.remaining < t.remaining) {
                tightest = Some(after);
            }
        }
        Ok(tightest)
    }
}

pub(crate) fn apply_headers(response: &mut HttpResponse, status: &Status) {
    let headers = response.headers_mut();
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    };
    set("ratelimit-limit", status.limit.to_string());
    set("ratelimit-remaining", status.remaining.to_string());
    set("ratelimit-reset", status.reset.to_string());
    set(
        "ratelimit-policy",
        format!("{};w={}", status.limit, status.window_secs),
    );
}

/// The handler's answer plus the limiter's headers, unless it carries its own (a 429).
pub(crate) fn respond(
    result: Result<HttpResponse, super::error::XrpcError>,
    window: Option<Status>,
) -> HttpResponse {
    let mut response =
        result.unwrap_or_else(|error| actix_web::ResponseError::error_response(&error));
    if let Some(window) = window
        && !response.headers().contains_key("ratelimit-limit")
    {
        apply_headers(&mut response, &window);
    }
    response
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn consumes_from_every_limiter_and_reports_the_tightest() {
        let mut limiter = RateLimiter::default();
        let limits = [
            Limit {
                name: "short",
                points: 5,
                window_secs: 60,
            },
            Limit {
                name: "long",
                points: 100,
                window_secs: 3600,
            },
        ];
        let now = DateTime::from_timestamp(3600, 0).unwrap();
        let status = limiter.consume("k", &limits, 2, now).unwrap().unwrap();
        assert_eq!((status.limit, status.remaining), (5, 3));
        assert_eq!(status.reset, 3660);
        limiter.consume("k", &limits, 2, now).unwrap();
        let refused = limiter.consume("k", &limits, 2, now).unwrap_err();
        assert_eq!((refused.limit, refused.remaining), (5, 0));
        // Nothing was consumed by the refused request.
        let long = limiter.peek("k", &limits[1..], now).unwrap();
        assert_eq!(long.remaining, 96);
    }
}
