//! Meta Graph answers as the Instagram and Threads adapters read them.
//!
//! Graph says little with HTTP statuses (most refusals are 400, throttling is often 403), so
//! every failure is classified by the error object's `code` / `error_subcode`:
//! `{"error": {message, type, code, error_subcode, is_transient, error_user_msg, fbtrace_id}}`.

use super::super::RateLimit;
use super::super::util::{self, without_url};
use chrono::Utc;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::time::Duration;

/// How long to back off when throttled without Meta saying for how long.
pub(crate) const DEFAULT_THROTTLE_WAIT: Duration = Duration::from_secs(10 * 60);

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct GraphError {
    #[serde(default)]
    pub(crate) message: String,
    #[serde(default)]
    pub(crate) code: i64,
    #[serde(default)]
    pub(crate) error_subcode: Option<i64>,
    #[serde(default)]
    pub(crate) is_transient: bool,
    #[serde(default)]
    pub(crate) error_user_msg: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: GraphError,
}

/// A Graph call that did not succeed.
#[derive(Debug, Clone)]
pub(crate) enum Failure {
    /// The connection could not be made: the request never reached Meta.
    Connect(String),
    /// Sent, but the answer was lost or unreadable: it may have been processed.
    Lost(String),
    /// Meta answered with an error.
    Refused {
        status: StatusCode,
        error: GraphError,
        /// Meta's hint of when throttling ends, if it gave one.
        wait: Option<Duration>,
    },
}

/// Meta's call-rate throttling codes (app, user, page, custom-rate, Instagram business use case).
fn is_throttle_code(code: i64) -> bool {
    matches!(code, 4 | 17 | 32 | 613) || (80_000..=80_014).contains(&code)
}

impl Failure {
    fn transport(error: &reqwest::Error) -> Self {
        if error.is_connect() {
            Failure::Connect(without_url(error))
        } else {
            Failure::Lost(without_url(error))
        }
    }

    fn graph(&self) -> Option<&GraphError> {
        match self {
            Failure::Refused { error, .. } => Some(error),
            _ => None,
        }
    }

    fn code(&self) -> Option<i64> {
        self.graph().map(|e| e.code)
    }

    fn subcode(&self) -> Option<i64> {
        self.graph().and_then(|e| e.error_subcode)
    }

    fn status(&self) -> Option<StatusCode> {
        match self {
            Failure::Refused { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub(crate) fn is_throttle(&self) -> bool {
        self.code().is_some_and(is_throttle_code)
            || self.status() == Some(StatusCode::TOO_MANY_REQUESTS)
    }

    /// The token is invalid or expired (190 and its relatives): reconnecting is the only cure.
    pub(crate) fn is_token(&self) -> bool {
        matches!(self.code(), Some(190 | 102 | 104 | 463 | 467))
            || self.status() == Some(StatusCode::UNAUTHORIZED)
    }

    /// The token works but lacks a permission for this call.
    pub(crate) fn is_permission(&self) -> bool {
        self.code()
            .is_some_and(|c| c == 10 || (200..=299).contains(&c))
            || (self.status() == Some(StatusCode::FORBIDDEN)
                && !self.is_throttle()
                && self.code() == Some(0))
    }

    /// The object does not exist for this token.
    pub(crate) fn is_not_found(&self) -> bool {
        (self.code() == Some(100) && self.subcode() == Some(33))
            || self.code() == Some(803)
            || self.status() == Some(StatusCode::NOT_FOUND)
    }

    /// The moving 24-hour publishing quota is used up.
    pub(crate) fn is_publish_limit(&self) -> bool {
        self.subcode() == Some(2_207_042)
    }

    /// The container is still being processed.
    pub(crate) fn is_not_ready(&self) -> bool {
        self.code() == Some(9007) || self.subcode() == Some(2_207_027)
    }

    /// Meta's side failed (5xx, or an error it marks transient, or its unknown-error codes):
    /// the request may or may not have been carried out.
    pub(crate) fn is_server_side(&self) -> bool {
        match self {
            Failure::Refused { status, error, .. } => {
                status.is_server_error()
                    || error.is_transient
                    || matches!(error.code, 1 | 2 | -1 | -2)
            }
            _ => false,
        }
    }

    /// How long to wait when throttled.
    pub(crate) fn wait(&self) -> Duration {
        match self {
            Failure::Refused {
                wait: Some(wait), ..
            } => *wait,
            _ => DEFAULT_THROTTLE_WAIT,
        }
    }

    /// A short sentence for stored reasons; never a URL or a token.
    pub(crate) fn reason(&self) -> String {
        match self {
            Failure::Connect(text) => format!("could not connect: {text}"),
            Failure::Lost(text) => format!("no usable answer: {text}"),
            Failure::Refused { status, error, .. } => {
                let text = error
                    .error_user_msg
                    .as_deref()
                    .filter(|m| !m.is_empty())
                    .unwrap_or(&error.message);
                let code = match error.error_subcode {
                    Some(sub) => format!("{}/{sub}", error.code),
                    None => error.code.to_string(),
                };
                format!(
                    "{} (HTTP {}, code {code})",
                    util::short(text, 200),
                    status.as_u16()
                )
            }
        }
    }
}

/// Sends a Graph request and reads a `T` from its success answer, with the usage it reported.
pub(crate) async fn send<T: DeserializeOwned>(
    request: reqwest::RequestBuilder,
) -> (Result<T, Failure>, Option<RateLimit>) {
    let response = match request.send().await {
        Ok(response) => response,
        Err(error) => return (Err(Failure::transport(&error)), None),
    };
    let rate = rate_limit(response.headers());
    let status = response.status();
    if status.is_success() {
        let value = response
            .json::<T>()
            .await
            .map_err(|error| Failure::Lost(format!("unreadable answer: {}", without_url(&error))));
        return (value, rate);
    }
    let wait = throttle_wait(response.headers());
    // A body that is not Graph's error object (a proxy's page) leaves code 0: classified by
    // the HTTP status alone.
    let error = response
        .json::<ErrorBody>()
        .await
        .map(|body| body.error)
        .unwrap_or_else(|_| GraphError {
            message: format!("HTTP {status}"),
            ..GraphError::default()
        });
    (
        Err(Failure::Refused {
            status,
            error,
            wait,
        }),
        rate,
    )
}

/// The longest `estimated_time_to_regain_access` (minutes) in `X-Business-Use-Case-Usage`.
fn regain_minutes(headers: &HeaderMap) -> Option<u64> {
    let value = headers.get("x-business-use-case-usage")?.to_str().ok()?;
    let json: serde_json::Value = serde_json::from_str(value).ok()?;
    json.as_object()?
        .values()
        .filter_map(|entries| entries.as_array())
        .flatten()
        .filter_map(|entry| entry.get("estimated_time_to_regain_access")?.as_u64())
        .max()
}

fn throttle_wait(headers: &HeaderMap) -> Option<Duration> {
    regain_minutes(headers)
        .filter(|&m| m > 0)
        .map(|m| Duration::from_secs(m * 60))
        .or_else(|| util::retry_after(headers))
}

/// Meta's usage headers as a budget: `remaining` is the percentage of the budget left, reset
/// when Meta says access is regained (else within the hour its windows slide over).
pub(crate) fn rate_limit(headers: &HeaderMap) -> Option<RateLimit> {
    let used = util::meta_usage_percent(headers)?;
    let wait = throttle_wait(headers).unwrap_or(Duration::from_secs(3600));
    Some(RateLimit {
        remaining: 100u64.saturating_sub(used),
        reset_at: Utc::now()
            + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(1)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn refused(status: u16, code: i64, subcode: Option<i64>) -> Failure {
        Failure::Refused {
            status: StatusCode::from_u16(status).unwrap(),
            error: GraphError {
                message: "m".into(),
                code,
                error_subcode: subcode,
                is_transient: false,
                error_user_msg: None,
            },
            wait: None,
        }
    }

    #[test]
    fn classifies_by_code_not_status() {
        assert!(refused(403, 4, None).is_throttle());
        assert!(!refused(403, 4, None).is_permission());
        assert!(refused(400, 80_002, None).is_throttle());
        assert!(refused(400, 190, Some(463)).is_token());
        assert!(refused(403, 10, None).is_permission());
        assert!(refused(400, 100, Some(33)).is_not_found());
        assert!(refused(400, 9, Some(2_207_042)).is_publish_limit());
        assert!(refused(400, 9007, Some(2_207_027)).is_not_ready());
        assert!(refused(503, 2, None).is_server_side());
        assert!(!refused(400, 100, Some(2_207_008)).is_server_side());
        assert_eq!(
            refused(400, 9, Some(2_207_042)).wait(),
            DEFAULT_THROTTLE_WAIT
        );
    }

    #[test]
    fn reads_the_time_to_regain_access() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-business-use-case-usage",
            HeaderValue::from_static(
                r#"{"1784":[{"type":"instagram","call_count":100,"total_cputime":3,"total_time":4,"estimated_time_to_regain_access":7}]}"#,
            ),
        );
        assert_eq!(throttle_wait(&h), Some(Duration::from_secs(420)));
        let rate = rate_limit(&h).unwrap();
        assert_eq!(rate.remaining, 0);
        assert!((rate.reset_at - Utc::now()).num_minutes() >= 6);
    }
}
