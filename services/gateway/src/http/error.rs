//! The uniform error body `{"error":{"code","message","request_id"}}` for every error the API
//! returns, and the one mapping from a service's `RpcError` code to an HTTP status.
//!
//! Errors are raised as `ApiError` anywhere (handlers, extractors, the middleware); the edge
//! middleware writes the final body with the request id, and also rewrites any error response
//! that did not come from here (actix internals) so clients never see another shape.

use actix_web::error::{JsonPayloadError, PayloadError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use herald_contracts::rpc::{ErrorCode, RpcError};
use std::borrow::Cow;
use std::fmt;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: Cow<'static, str>,
    headers: Vec<(HeaderName, HeaderValue)>,
}

/// Attached to error responses built here: what the edge renders into the body.
#[derive(Debug, Clone)]
pub struct ErrorBody {
    pub code: &'static str,
    pub message: String,
}

impl ErrorBody {
    /// The body for an error response that did not come from `ApiError`.
    pub fn for_status(status: StatusCode) -> Self {
        let (code, message) = match status.as_u16() {
            400 => ("malformed_request", "malformed request"),
            401 => ("unauthenticated", "authentication required"),
            403 => ("forbidden", "not allowed"),
            404 => ("not_found", "not found"),
            405 => ("method_not_allowed", "method not allowed"),
            408 => ("request_timeout", "request timed out"),
            409 => ("conflict", "conflict"),
            413 => ("payload_too_large", "request body too large"),
            415 => ("unsupported_media_type", "unsupported media type"),
            422 => ("invalid_input", "invalid input"),
            429 => ("rate_limited", "too many requests"),
            503 => ("unavailable", "service unavailable"),
            504 => ("timeout", "the request took too long"),
            _ if status.is_client_error() => ("bad_request", "bad request"),
            _ => ("internal", "internal error"),
        };
        Self {
            code,
            message: message.to_owned(),
        }
    }

    pub fn render(&self, request_id: &str) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "error": {"code": self.code, "message": self.message, "request_id": request_id}
        }))
        .unwrap_or_default()
    }
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            headers: Vec::new(),
        }
    }

    fn with_header(mut self, name: HeaderName, value: &str) -> Self {
        if let Ok(value) = HeaderValue::from_str(value) {
            self.headers.push((name, value));
        }
        self
    }

    pub fn bad_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "malformed_request", message)
    }

    /// Also for ids that are not UUIDs, so an id's shape reveals nothing.
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "not found")
    }

    pub fn method_not_allowed(allow: &str) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "method not allowed",
        )
        .with_header(actix_web::http::header::ALLOW, allow)
    }

    /// No bearer token at all.
    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "authentication required",
        )
        .with_header(actix_web::http::header::WWW_AUTHENTICATE, "Bearer")
    }

    /// A bearer token that did not verify (the reason is logged, not returned).
    pub fn invalid_token() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "invalid or expired token",
        )
        .with_header(
            actix_web::http::header::WWW_AUTHENTICATE,
            "Bearer error=\"invalid_token\"",
        )
    }

    pub fn forbidden() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "your role does not allow this",
        )
    }

    /// Temporarily unable to serve (e.g. a per-replica limit); worth retrying later.
    pub fn unavailable(message: impl Into<Cow<'static, str>>, retry_after_secs: u32) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message).with_header(
            actix_web::http::header::RETRY_AFTER,
            &retry_after_secs.to_string(),
        )
    }

    /// Over a rate limit until the window ends, `retry_after_secs` from now.
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many requests; retry later",
        )
        .with_header(
            actix_web::http::header::RETRY_AFTER,
            &retry_after_secs.max(1).to_string(),
        )
    }

    /// A body over the route's limit (declared or counted as it streamed in).
    pub fn payload_too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "request body too large",
        )
    }

    /// The body did not arrive within the body timeout.
    pub fn request_timeout() -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            "request body not received in time",
        )
    }

    /// The handler deadline passed before a response was ready.
    pub fn gateway_timeout() -> Self {
        Self::new(
            StatusCode::GATEWAY_TIMEOUT,
            "timeout",
            "the request took too long; retry later",
        )
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
        )
    }
}

/// The one mapping from a service's error code to an HTTP status.
pub fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::InvalidInput => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorCode::Forbidden => StatusCode::FORBIDDEN,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::Conflict => StatusCode::CONFLICT,
        ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<RpcError> for ApiError {
    fn from(error: RpcError) -> Self {
        let status = status_of(error.code);
        let api = match error.code {
            // The service logged the cause; the client learns nothing more.
            ErrorCode::Internal => return ApiError::internal(),
            _ => ApiError::new(status, error.code.as_str(), error.message),
        };
        match (error.code, error.retry_after_secs) {
            (ErrorCode::Unauthenticated, _) => {
                api.with_header(actix_web::http::header::WWW_AUTHENTICATE, "Bearer")
            }
            (ErrorCode::RateLimited, Some(secs)) => {
                api.with_header(actix_web::http::header::RETRY_AFTER, &secs.to_string())
            }
            _ => api,
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut builder = HttpResponse::build(self.status);
        for (name, value) in &self.headers {
            builder.insert_header((name.clone(), value.clone()));
        }
        let body = ErrorBody {
            code: self.code,
            message: self.message.to_string(),
        };
        let mut response = builder
            .content_type("application/json")
            .body(body.render(""));
        response.extensions_mut().insert(body);
        response
    }
}

fn json_error(error: JsonPayloadError) -> ApiError {
    match error {
        JsonPayloadError::OverflowKnownLength { .. }
        | JsonPayloadError::Overflow { .. }
        | JsonPayloadError::Payload(PayloadError::Overflow) => ApiError::payload_too_large(),
        JsonPayloadError::Payload(error) if super::body::is_timeout(&error) => {
            ApiError::request_timeout()
        }
        JsonPayloadError::ContentType => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "expected Content-Type: application/json",
        ),
        JsonPayloadError::Deserialize(error) if error.is_data() => {
            ApiError::bad_request(format!("invalid request body: {error}"))
        }
        JsonPayloadError::Deserialize(_) => ApiError::bad_request("malformed JSON body"),
        _ => ApiError::bad_request("unreadable request body"),
    }
}

/// JSON bodies: `application/json` only, errors in the uniform shape. The limit is the
/// largest any route takes; the edge holds each route to its own (`policy::body_limit`).
pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(super::policy::max_body_limit())
        .error_handler(|error, _req: &HttpRequest| json_error(error).into())
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|error, _req: &HttpRequest| {
        let QueryPayloadError::Deserialize(error) = error else {
            return ApiError::bad_request("invalid query string").into();
        };
        ApiError::bad_request(format!("invalid query string: {error}")).into()
    })
}

/// The answer for any path no route matches.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_are_opaque() {
        let api = ApiError::from(RpcError::new(ErrorCode::Internal, "db password wrong"));
        assert_eq!(api.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(api.message, "internal error");
    }

    #[test]
    fn rate_limited_carries_retry_after() {
        let api = ApiError::from(RpcError::rate_limited("too many failed logins", 42));
        assert_eq!(api.status, StatusCode::TOO_MANY_REQUESTS);
        let retry_after = api
            .error_response()
            .headers()
            .get(actix_web::http::header::RETRY_AFTER)
            .cloned();
        assert_eq!(retry_after.unwrap(), "42");
    }

    #[test]
    fn maps_every_code() {
        assert_eq!(status_of(ErrorCode::InvalidInput).as_u16(), 422);
        assert_eq!(status_of(ErrorCode::Conflict).as_u16(), 409);
        assert_eq!(status_of(ErrorCode::RateLimited).as_u16(), 429);
        assert_eq!(status_of(ErrorCode::Unavailable).as_u16(), 503);
        assert_eq!(status_of(ErrorCode::NotFound).as_u16(), 404);
    }
}
