//! X's per-user, per-endpoint rate limits (15-minute windows) and the
//! `x-rate-limit-limit/remaining/reset` headers (reset in unix seconds) on every answer.

use std::collections::HashMap;

use actix_web::HttpResponse;
use actix_web::http::header::{HeaderName, HeaderValue};
use chrono::{DateTime, Utc};

const WINDOW_SECS: i64 = 15 * 60;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Endpoint {
    name: &'static str,
    limit: u32,
}

/// `POST /2/tweets`: 100 per 15 minutes per user.
pub(crate) const CREATE_TWEET: Endpoint = Endpoint {
    name: "POST /2/tweets",
    limit: 100,
};
/// `POST /2/media/upload` and `/2/media/metadata`: 500 per 15 minutes per user (sandbox figure).
pub(crate) const MEDIA_UPLOAD: Endpoint = Endpoint {
    name: "POST /2/media/upload",
    limit: 500,
};
/// `GET /2/users/me`: 75 per 15 minutes per user.
pub(crate) const USERS_ME: Endpoint = Endpoint {
    name: "GET /2/users/me",
    limit: 75,
};
/// `GET /2/users/:id/tweets`: 900 per 15 minutes per user.
pub(crate) const USER_TWEETS: Endpoint = Endpoint {
    name: "GET /2/users/:id/tweets",
    limit: 900,
};
/// `GET /2/tweets`: 900 per 15 minutes per user.
pub(crate) const TWEETS_LOOKUP: Endpoint = Endpoint {
    name: "GET /2/tweets",
    limit: 900,
};

#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    pub(crate) limit: u32,
    pub(crate) remaining: u32,
    /// Unix seconds.
    pub(crate) reset: i64,
}

impl Window {
    /// Nothing left until `reset` (unix seconds): a burst limit shorter than the window.
    pub(crate) fn exhausted_until(self, reset: i64) -> Window {
        Window {
            remaining: 0,
            reset,
            ..self
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct RateLimiter {
    /// (user id, endpoint) → (window index, requests counted in that window)
    counters: HashMap<(u64, &'static str), (i64, u32)>,
}

impl RateLimiter {
    fn window(&self, user: u64, endpoint: Endpoint, now: DateTime<Utc>) -> (Window, i64, u32) {
        let index = now.timestamp().div_euclid(WINDOW_SECS);
        let used = match self.counters.get(&(user, endpoint.name)) {
            Some(&(counted, used)) if counted == index => used,
            _ => 0,
        };
        let window = Window {
            limit: endpoint.limit,
            remaining: endpoint.limit.saturating_sub(used),
            reset: (index + 1) * WINDOW_SECS,
        };
        (window, index, used)
    }

    pub(crate) fn peek(&self, user: u64, endpoint: Endpoint, now: DateTime<Utc>) -> Window {
        self.window(user, endpoint, now).0
    }

    /// Counts one request; `Err` (nothing left) when the window is used up.
    pub(crate) fn hit(
        &mut self,
        user: u64,
        endpoint: Endpoint,
        now: DateTime<Utc>,
    ) -> Result<Window, Window> {
        let (window, index, used) = self.window(user, endpoint, now);
        if window.remaining == 0 {
            return Err(window);
        }
        self.counters
            .insert((user, endpoint.name), (index, used + 1));
        Ok(Window {
            remaining: window.remaining - 1,
            ..window
        })
    }
}

pub(crate) fn apply_headers(response: &mut HttpResponse, window: &Window) {
    let headers = response.headers_mut();
    for (name, value) in [
        ("x-rate-limit-limit", window.limit.to_string()),
        ("x-rate-limit-remaining", window.remaining.to_string()),
        ("x-rate-limit-reset", window.reset.to_string()),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
}

/// The handler's answer plus the caller's `x-rate-limit-*` headers, unless it carries its own.
pub(crate) fn respond(
    result: Result<HttpResponse, super::error::XError>,
    window: Option<Window>,
) -> HttpResponse {
    let mut response =
        result.unwrap_or_else(|error| actix_web::ResponseError::error_response(&error));
    if let Some(window) = window
        && !response.headers().contains_key("x-rate-limit-limit")
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
    fn counts_down_per_user_and_endpoint() {
        let mut limiter = RateLimiter::default();
        let endpoint = Endpoint {
            name: "t",
            limit: 2,
        };
        let now = DateTime::from_timestamp(WINDOW_SECS * 10 + 5, 0).unwrap();
        assert_eq!(limiter.hit(1, endpoint, now).unwrap().remaining, 1);
        assert_eq!(limiter.hit(1, endpoint, now).unwrap().remaining, 0);
        let refused = limiter.hit(1, endpoint, now).unwrap_err();
        assert_eq!(refused.reset, WINDOW_SECS * 11);
        assert_eq!(limiter.hit(2, endpoint, now).unwrap().remaining, 1);
    }
}
