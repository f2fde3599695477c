//! Mastodon's per-account rate limits and their `X-RateLimit-*` headers.
//!
//! Fixed windows aligned to the epoch, as rack-attack counts them; `X-RateLimit-Reset` is the
//! end of the current window in ISO 8601 with microseconds (`2026-01-01T00:05:00.000000Z`).

use std::collections::HashMap;

use actix_web::HttpResponse;
use actix_web::http::header::{HeaderName, HeaderValue};
use chrono::{DateTime, SecondsFormat, Utc};

#[derive(Debug, Clone, Copy)]
pub(crate) struct Family {
    name: &'static str,
    limit: u32,
    period_secs: i64,
}

/// Every authenticated API request: 300 per 5 minutes per account (instance default).
pub(crate) const API: Family = Family {
    name: "api",
    limit: 300,
    period_secs: 300,
};

/// Status creation: 300 per 3 hours per account.
pub(crate) const STATUSES: Family = Family {
    name: "statuses",
    limit: 300,
    period_secs: 3 * 3600,
};

#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    pub(crate) limit: u32,
    pub(crate) remaining: u32,
    pub(crate) reset: DateTime<Utc>,
}

impl Window {
    /// Nothing left until `reset` (a burst limit shorter than the window).
    pub(crate) fn exhausted_until(self, reset: DateTime<Utc>) -> Window {
        Window {
            remaining: 0,
            reset,
            ..self
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct RateLimiter {
    /// (account id, family) → (window index, requests counted in that window)
    counters: HashMap<(u64, &'static str), (i64, u32)>,
}

impl RateLimiter {
    fn used(&self, account_id: u64, family: Family, index: i64) -> u32 {
        match self.counters.get(&(account_id, family.name)) {
            Some(&(counted_index, count)) if counted_index == index => count,
            _ => 0,
        }
    }

    /// The window as it stands, without counting a request.
    pub(crate) fn peek(&self, account_id: u64, family: Family, now: DateTime<Utc>) -> Window {
        let index = now.timestamp().div_euclid(family.period_secs);
        window(family, index, self.used(account_id, family, index))
    }

    /// Counts one request; `Err` (with nothing left) when the window is already used up.
    pub(crate) fn hit(
        &mut self,
        account_id: u64,
        family: Family,
        now: DateTime<Utc>,
    ) -> Result<Window, Window> {
        let index = now.timestamp().div_euclid(family.period_secs);
        let used = self.used(account_id, family, index);
        if used >= family.limit {
            return Err(window(family, index, used));
        }
        self.counters
            .insert((account_id, family.name), (index, used + 1));
        Ok(window(family, index, used + 1))
    }
}

fn window(family: Family, index: i64, used: u32) -> Window {
    let reset_secs = (index + 1).saturating_mul(family.period_secs);
    Window {
        limit: family.limit,
        remaining: family.limit.saturating_sub(used),
        reset: DateTime::from_timestamp(reset_secs, 0).unwrap_or_else(Utc::now),
    }
}

pub(crate) fn apply_headers(response: &mut HttpResponse, window: &Window) {
    let reset = window.reset.to_rfc3339_opts(SecondsFormat::Micros, true);
    let headers = response.headers_mut();
    headers.insert(
        HeaderName::from_static("x-ratelimit-limit"),
        HeaderValue::from(window.limit),
    );
    headers.insert(
        HeaderName::from_static("x-ratelimit-remaining"),
        HeaderValue::from(window.remaining),
    );
    if let Ok(value) = HeaderValue::from_str(&reset) {
        headers.insert(HeaderName::from_static("x-ratelimit-reset"), value);
    }
}

/// The answer to send: the handler's result, plus the caller's `X-RateLimit-*` headers
/// unless the answer already carries its own (a 429 reports the window that refused it).
pub(crate) fn respond(
    result: Result<HttpResponse, super::error::ApiError>,
    window: Option<Window>,
) -> HttpResponse {
    let mut response =
        result.unwrap_or_else(|error| actix_web::ResponseError::error_response(&error));
    if let Some(window) = window
        && !response.headers().contains_key("x-ratelimit-limit")
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
    fn counts_down_then_refuses_until_the_next_window() {
        let mut limiter = RateLimiter::default();
        let family = Family {
            name: "t",
            limit: 2,
            period_secs: 60,
        };
        let now = DateTime::from_timestamp(120, 0).unwrap();
        assert_eq!(limiter.hit(1, family, now).unwrap().remaining, 1);
        assert_eq!(limiter.hit(1, family, now).unwrap().remaining, 0);
        let refused = limiter.hit(1, family, now).unwrap_err();
        assert_eq!(refused.reset, DateTime::from_timestamp(180, 0).unwrap());
        assert_eq!(limiter.hit(2, family, now).unwrap().remaining, 1);
        let later = DateTime::from_timestamp(180, 0).unwrap();
        assert_eq!(limiter.hit(1, family, later).unwrap().remaining, 1);
    }
}
