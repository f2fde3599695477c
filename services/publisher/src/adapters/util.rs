//! Pieces every adapter needs: transport-error classification, rate-limit headers, and
//! error texts that never carry a URL or a token.

use super::{MediaItem, PublishOutcome, RateLimit, Reconciled};
use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;
use std::time::Duration;

/// reqwest errors include the URL (which may carry `access_token=`); keep it out.
pub fn without_url(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text.replace(url.as_str(), "<url>");
    }
    text
}

/// A publish request that failed in transport: when the connection could not even be made,
/// nothing reached the platform (retryable); anything later may have been processed.
pub fn transport_outcome(error: &reqwest::Error) -> PublishOutcome {
    if error.is_connect() {
        PublishOutcome::Retryable {
            reason: without_url(error),
            retry_after: None,
        }
    } else {
        PublishOutcome::Ambiguous {
            reason: without_url(error),
        }
    }
}

/// An image upload that failed in transport. An upload never creates a post, so whatever
/// happened to it, uploading again is safe: retryable, never ambiguous.
pub fn upload_transport_outcome(error: &reqwest::Error) -> PublishOutcome {
    PublishOutcome::Retryable {
        reason: format!("image upload failed: {}", without_url(error)),
        retry_after: None,
    }
}

/// An image upload the platform answered with an error status: throttled or failed on the
/// platform's side → retryable (nothing was posted); the token refused → terminal; any other
/// refusal (the image itself) → terminal.
pub fn upload_refused(
    status: reqwest::StatusCode,
    headers: &HeaderMap,
    detail: &str,
) -> PublishOutcome {
    use reqwest::StatusCode;
    match status {
        StatusCode::TOO_MANY_REQUESTS => PublishOutcome::Retryable {
            reason: "image upload rate limited (429)".into(),
            retry_after: throttled_for(headers),
        },
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => PublishOutcome::Terminal {
            reason: format!("the platform refused the token for an image upload ({status})"),
        },
        status if status.is_server_error() => PublishOutcome::Retryable {
            reason: format!("image upload failed ({status})"),
            retry_after: None,
        },
        status => PublishOutcome::Terminal {
            reason: format!("the platform refused an image ({status}): {detail}"),
        },
    }
}

/// A file name for an image part, from its content type (some platforms look at the
/// extension).
pub fn image_file_name(item: &MediaItem) -> String {
    let extension = match item.content_type.as_str() {
        "image/jpeg" => "jpg",
        "image/gif" => "gif",
        "image/webp" => "webp",
        _ => "png",
    };
    format!("image.{extension}")
}

/// The image as a multipart file part with its content type.
pub fn image_part(item: &MediaItem) -> Result<reqwest::multipart::Part, PublishOutcome> {
    reqwest::multipart::Part::stream(reqwest::Body::from(item.bytes.clone()))
        .file_name(image_file_name(item))
        .mime_str(&item.content_type)
        .map_err(|_| PublishOutcome::Terminal {
            reason: format!(
                "the image's content type is not valid: {}",
                short(&item.content_type, 60)
            ),
        })
}

/// A lookup that failed in transport: try the lookup again later.
pub fn transport_reconciled(error: &reqwest::Error) -> Reconciled {
    Reconciled::Unavailable {
        reason: without_url(error),
        retry_after: None,
    }
}

/// `Retry-After` in seconds or as an HTTP date.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get("retry-after")?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?;
    (at.with_timezone(&Utc) - Utc::now()).to_std().ok()
}

fn header<'a>(headers: &'a HeaderMap, names: &[&str]) -> Option<&'a str> {
    names
        .iter()
        .find_map(|name| headers.get(*name).and_then(|v| v.to_str().ok()))
        .map(str::trim)
}

/// A reset given as ISO-8601, unix seconds, or seconds from now (the IETF `RateLimit-Reset`
/// draft); a number smaller than 10^9 is taken as a delta.
fn parse_reset(value: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if let Ok(at) = DateTime::parse_from_rfc3339(value) {
        return Some(at.with_timezone(&Utc));
    }
    let number: i64 = value.parse().ok()?;
    if number >= 1_000_000_000 {
        DateTime::from_timestamp(number, 0)
    } else {
        Some(now + chrono::Duration::seconds(number))
    }
}

/// Reads `X-RateLimit-*` (Mastodon), `RateLimit-*` (Bluesky) or `x-rate-limit-*` (X).
pub fn rate_limit(headers: &HeaderMap) -> Option<RateLimit> {
    let remaining = header(
        headers,
        &[
            "x-ratelimit-remaining",
            "ratelimit-remaining",
            "x-rate-limit-remaining",
        ],
    )?
    .parse()
    .ok()?;
    let reset = header(
        headers,
        &["x-ratelimit-reset", "ratelimit-reset", "x-rate-limit-reset"],
    )?;
    Some(RateLimit {
        remaining,
        reset_at: parse_reset(reset, Utc::now())?,
    })
}

/// How long to wait after a 429: `Retry-After`, else until the advertised reset.
pub fn throttled_for(headers: &HeaderMap) -> Option<Duration> {
    retry_after(headers).or_else(|| {
        let limit = rate_limit(headers)?;
        (limit.reset_at - Utc::now()).to_std().ok()
    })
}

/// Meta's `X-App-Usage` / `X-Business-Use-Case-Usage`: percentages of the app's budget. Returns
/// the highest percentage seen (100 = exhausted).
pub fn meta_usage_percent(headers: &HeaderMap) -> Option<u64> {
    let mut highest: Option<u64> = None;
    for name in ["x-app-usage", "x-business-use-case-usage", "x-page-usage"] {
        let Some(value) = headers.get(name).and_then(|v| v.to_str().ok()) else {
            continue;
        };
        let Ok(json) = serde_json::from_str::<serde_json::Value>(value) else {
            continue;
        };
        collect_percentages(&json, &mut highest);
    }
    highest
}

fn collect_percentages(value: &serde_json::Value, highest: &mut Option<u64>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, inner) in map {
                if matches!(key.as_str(), "call_count" | "total_cputime" | "total_time")
                    && let Some(n) = inner.as_u64()
                {
                    *highest = Some(highest.map_or(n, |h| h.max(n)));
                } else {
                    collect_percentages(inner, highest);
                }
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                collect_percentages(item, highest);
            }
        }
        _ => {}
    }
}

/// Text as lookups compare it: whitespace runs collapsed to one space, ends trimmed (platforms
/// re-wrap and trim what they store).
pub fn normalize(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// At most `max` characters of a platform's error text, for stored reasons.
pub fn short(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn reads_each_platform_family_of_rate_headers() {
        let now = Utc::now();
        let mut h = HeaderMap::new();
        h.insert("x-rate-limit-remaining", HeaderValue::from_static("0"));
        let reset = (now.timestamp() + 60).to_string();
        h.insert("x-rate-limit-reset", HeaderValue::from_str(&reset).unwrap());
        let limit = rate_limit(&h).unwrap();
        assert_eq!(limit.remaining, 0);
        assert!((limit.reset_at - now).num_seconds() >= 59);

        let mut h = HeaderMap::new();
        h.insert("ratelimit-remaining", HeaderValue::from_static("7"));
        h.insert("ratelimit-reset", HeaderValue::from_static("30"));
        let limit = rate_limit(&h).unwrap();
        assert_eq!(limit.remaining, 7);
        assert!((limit.reset_at - now).num_seconds() >= 29);

        let mut h = HeaderMap::new();
        h.insert(
            "x-app-usage",
            HeaderValue::from_static(r#"{"call_count":28,"total_time":95,"total_cputime":10}"#),
        );
        assert_eq!(meta_usage_percent(&h), Some(95));
    }

    #[test]
    fn retry_after_in_seconds() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("12"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(12)));
        assert_eq!(throttled_for(&h), Some(Duration::from_secs(12)));
    }
}
