//! The headers the edge puts on every response: the security headers, and the `RateLimit-*`
//! headers of the tightest rate limit that applied.

use super::EdgeSettings;
use super::policy::paths;
use super::ratelimit::Quota;
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};

const PERMISSIONS_POLICY: &str = "accelerometer=(), camera=(), geolocation=(), gyroscope=(), \
                                  magnetometer=(), microphone=(), payment=(), usb=()";
const RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
const RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
const RATELIMIT_RESET: HeaderName = HeaderName::from_static("ratelimit-reset");

/// The security headers; `route` is the matched route pattern, if any.
pub fn set_security_headers(headers: &mut HeaderMap, settings: &EdgeSettings, route: Option<&str>) {
    let fixed = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CONTENT_SECURITY_POLICY, "default-src 'none'"),
        (
            HeaderName::from_static("permissions-policy"),
            PERMISSIONS_POLICY,
        ),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    // Platforms (and browsers showing a post) load rendered images from other origins.
    let resource_policy = if route == Some(paths::MEDIA) {
        "cross-origin"
    } else {
        "same-origin"
    };
    headers.insert(
        HeaderName::from_static("cross-origin-resource-policy"),
        HeaderValue::from_static(resource_policy),
    );
    if let Some(hsts) = &settings.hsts {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, hsts.clone());
    }
    // `no-store` unless the route chose otherwise (the event stream sends `no-cache`).
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

/// `RateLimit-Limit`, `-Remaining` and `-Reset` (seconds) for `quota`.
pub fn set_quota_headers(headers: &mut HeaderMap, quota: Quota) {
    for (name, value) in [
        (RATELIMIT_LIMIT, quota.limit),
        (RATELIMIT_REMAINING, quota.remaining),
        (RATELIMIT_RESET, quota.reset_secs),
    ] {
        headers.insert(name, HeaderValue::from(value));
    }
}
