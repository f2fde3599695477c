//! XRPC error answers: a status and `{"error": "<Name>", "message": "<text>"}`, with the names
//! and texts the reference PDS (bluesky-social/atproto, `@atproto/xrpc-server`) sends.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

use super::rate_limit::{self, Status};

#[derive(Debug, Clone)]
pub(crate) struct XrpcError {
    status: StatusCode,
    name: &'static str,
    message: String,
    /// The limiter's state, sent as `RateLimit-*` headers with a 429.
    window: Option<Status>,
}

impl std::fmt::Display for XrpcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.name, self.status, self.message)
    }
}

impl std::error::Error for XrpcError {}

impl XrpcError {
    fn new(status: StatusCode, name: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            name,
            message: message.into(),
            window: None,
        }
    }

    /// `InvalidRequestError` without a custom name.
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidRequest", message)
    }

    /// A 400 with one of the lexicon's named errors (`RecordNotFound`, `InvalidSwap`, ...).
    pub(crate) fn named(name: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, name, message)
    }

    pub(crate) fn expired_token() -> Self {
        Self::named("ExpiredToken", "Token has expired")
    }

    pub(crate) fn invalid_token(message: &str) -> Self {
        Self::named("InvalidToken", message)
    }

    /// No `Authorization` header where the method requires one.
    pub(crate) fn auth_missing() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "AuthMissing",
            "Authentication Required",
        )
    }

    /// `AuthRequiredError` with its default name and text.
    pub(crate) fn auth_required(message: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "AuthenticationRequired", message)
    }

    pub(crate) fn rate_limited(window: Status) -> Self {
        Self {
            window: Some(window),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "RateLimitExceeded",
                "Rate Limit Exceeded",
            )
        }
    }

    /// What the PDS answers for an unhandled exception (the message never carries details).
    pub(crate) fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            "Internal Server Error",
        )
    }

    /// The injected outage: XRPC's 503.
    pub(crate) fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "NotEnoughResources",
            "Not Enough Resources",
        )
    }

    /// Only when a drop-after-commit fault cannot cut the connection (no socket kept for it).
    pub(crate) fn drop_unavailable() -> Self {
        Self::new(
            StatusCode::BAD_GATEWAY,
            "UpstreamFailure",
            "The connection was dropped",
        )
    }

    /// The body is over the PDS's blob limit.
    pub(crate) fn payload_too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PayloadTooLargeError",
            "request entity too large",
        )
    }

    pub(crate) fn not_implemented() -> Self {
        Self::new(
            StatusCode::NOT_IMPLEMENTED,
            "MethodNotImplemented",
            "Method Not Implemented",
        )
    }
}

impl ResponseError for XrpcError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status)
            .json(serde_json::json!({ "error": self.name, "message": self.message }));
        if let Some(window) = &self.window {
            rate_limit::apply_headers(&mut response, window);
        }
        response
    }
}
