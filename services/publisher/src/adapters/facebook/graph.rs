//! Graph API wire formats as the adapter reads them: pages, created and listed posts, error
//! objects classified by code, and Meta's usage headers.

use super::super::{RateLimit, util};
use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;
use serde::Deserialize;
use std::time::Duration;

/// How long to wait after throttling when the usage headers do not say.
pub(super) const DEFAULT_THROTTLE: Duration = Duration::from_secs(15 * 60);

#[derive(Deserialize)]
pub(super) struct Page {
    pub(super) id: String,
    pub(super) name: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct Created {
    pub(super) id: String,
}

#[derive(Deserialize)]
pub(super) struct PostList {
    pub(super) data: Vec<ListedPost>,
    #[serde(default)]
    pub(super) paging: Option<Paging>,
}

#[derive(Deserialize)]
pub(super) struct ListedPost {
    pub(super) id: String,
    pub(super) message: Option<String>,
    pub(super) created_time: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct Paging {
    pub(super) cursors: Option<Cursors>,
    pub(super) next: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct Cursors {
    pub(super) after: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct ErrorEnvelope {
    pub(super) error: GraphError,
}

/// Graph's error object.
#[derive(Deserialize, Default)]
pub(super) struct GraphError {
    pub(super) message: Option<String>,
    pub(super) code: Option<i64>,
    pub(super) is_transient: Option<bool>,
}

impl GraphError {
    pub(super) async fn read(response: reqwest::Response) -> Self {
        response
            .json::<ErrorEnvelope>()
            .await
            .map(|envelope| envelope.error)
            .unwrap_or_default()
    }

    pub(super) fn text(&self) -> String {
        util::short(
            self.message.as_deref().unwrap_or("no reason given").trim(),
            200,
        )
    }

    pub(super) fn kind(&self) -> ErrorKind {
        match self.code {
            Some(4 | 17 | 32 | 613 | 80000..=80014) => ErrorKind::Throttled,
            Some(102 | 104 | 190) => ErrorKind::Token,
            Some(10 | 200..=299) => ErrorKind::Permission,
            Some(1 | 2) => ErrorKind::Temporary,
            _ if self.is_transient == Some(true) => ErrorKind::Temporary,
            _ => ErrorKind::Other,
        }
    }
}

#[derive(Debug, PartialEq)]
pub(super) enum ErrorKind {
    /// Refused by a rate limit: nothing was done.
    Throttled,
    /// The token is invalid, expired or revoked.
    Token,
    /// The token lacks a permission for this page.
    Permission,
    /// Graph's unknown or temporary service errors: the call may have been processed.
    Temporary,
    Other,
}

/// What Meta's usage headers said about an answer.
pub(super) struct Usage {
    /// The highest percentage of any budget (100 = throttled).
    pub(super) percent: Option<u64>,
    /// When a throttled page may call again (`estimated_time_to_regain_access`, minutes).
    pub(super) regain: Option<Duration>,
}

impl Usage {
    pub(super) fn read(headers: &HeaderMap) -> Self {
        Self {
            percent: util::meta_usage_percent(headers),
            regain: regain_access(headers),
        }
    }

    /// A rate limit only when a budget is used up; below that the percentages say nothing
    /// about how many posts remain.
    pub(super) fn rate(&self) -> Option<RateLimit> {
        self.percent
            .filter(|&percent| percent >= 100)
            .map(|_| self.exhausted())
    }

    pub(super) fn exhausted(&self) -> RateLimit {
        let wait = self.regain.unwrap_or(DEFAULT_THROTTLE);
        RateLimit {
            remaining: 0,
            reset_at: Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default(),
        }
    }
}

/// The longest `estimated_time_to_regain_access` (minutes) in `X-Business-Use-Case-Usage`;
/// `None` when absent or zero.
pub(super) fn regain_access(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get("x-business-use-case-usage")?.to_str().ok()?;
    let json: serde_json::Value = serde_json::from_str(value).ok()?;
    let minutes = json
        .as_object()?
        .values()
        .filter_map(serde_json::Value::as_array)
        .flatten()
        .filter_map(|entry| entry.get("estimated_time_to_regain_access")?.as_u64())
        .max()?;
    (minutes > 0).then(|| Duration::from_secs(minutes * 60))
}

/// Graph's `2026-01-01T12:00:00+0000`.
pub(super) fn parse_graph_time(value: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S%z")
        .or_else(|_| DateTime::parse_from_rfc3339(value))
        .ok()
        .map(|at| at.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn graph_codes_are_classified() {
        let kind = |code| {
            GraphError {
                code: Some(code),
                ..GraphError::default()
            }
            .kind()
        };
        for code in [4, 17, 32, 613, 80001] {
            assert_eq!(kind(code), ErrorKind::Throttled, "{code}");
        }
        assert_eq!(kind(190), ErrorKind::Token);
        assert_eq!(kind(200), ErrorKind::Permission);
        assert_eq!(kind(10), ErrorKind::Permission);
        assert_eq!(kind(2), ErrorKind::Temporary);
        assert_eq!(kind(506), ErrorKind::Other);
    }

    #[test]
    fn reads_the_time_to_regain_access() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-business-use-case-usage",
            HeaderValue::from_static(
                r#"{"1":[{"type":"pages","call_count":100,"estimated_time_to_regain_access":3}]}"#,
            ),
        );
        let usage = Usage::read(&headers);
        assert_eq!(usage.regain, Some(Duration::from_secs(180)));
        assert_eq!(usage.rate().map(|r| r.remaining), Some(0));
        assert!(Usage::read(&HeaderMap::new()).rate().is_none());
    }

    #[test]
    fn reads_graph_times() {
        let at = parse_graph_time("2026-11-23T13:35:15+0000").map(|t| t.timestamp());
        assert_eq!(at, Some(1_795_440_915));
    }
}
