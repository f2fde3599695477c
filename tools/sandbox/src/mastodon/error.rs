//! Mastodon's error answers: a status code and `{"error": "<message>"}`, with the messages
//! Mastodon itself sends so adapters can be tested against the real texts.

use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderValue, WWW_AUTHENTICATE};
use actix_web::{HttpResponse, ResponseError};

use super::rate_limit::{self, Window};

#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    #[error("The access token is invalid")]
    InvalidToken,
    #[error("Record not found")]
    NotFound,
    /// Mastodon's `Mastodon::ValidationError` / `RecordInvalid`: the message is sent as is.
    #[error("{0}")]
    Unprocessable(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("Unsupported content type: {0}")]
    UnsupportedMediaType(String),
    #[error("Too many requests")]
    RateLimited(Window),
    #[error("The page could not be served due to a temporary server failure.")]
    Unavailable,
    /// Only when a drop-after-commit fault cannot cut the connection (no socket kept for it).
    #[error("The connection was dropped")]
    DropUnavailable,
}

impl ApiError {
    pub(crate) fn validation(message: &str) -> Self {
        ApiError::Unprocessable(format!("Validation failed: {message}"))
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::InvalidToken => StatusCode::UNAUTHORIZED,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::DropUnavailable => StatusCode::BAD_GATEWAY,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code())
            .json(serde_json::json!({ "error": self.to_string() }));
        match self {
            ApiError::InvalidToken => {
                // Doorkeeper's challenge, which some clients read to decide to re-authorize.
                response.headers_mut().insert(
                    WWW_AUTHENTICATE,
                    HeaderValue::from_static(
                        "Bearer realm=\"Doorkeeper\", error=\"invalid_token\", \
                         error_description=\"The access token is invalid\"",
                    ),
                );
            }
            ApiError::RateLimited(window) => rate_limit::apply_headers(&mut response, window),
            _ => {}
        }
        response
    }
}
