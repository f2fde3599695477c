//! X API v2 error answers: RFC 7807 problems (`application/problem+json` with `title`,
//! `type`, `status`, `detail`), the `errors` array of invalid requests, and the OAuth 2.0
//! token endpoint's `{"error", "error_description"}`, with the texts X sends.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::{Value, json};

use super::rate_limit::{self, Window};

pub(crate) const DUPLICATE_CONTENT: &str =
    "You are not allowed to create a Tweet with duplicate content.";

#[derive(Debug, thiserror::Error)]
pub(crate) enum XError {
    #[error("Unauthorized")]
    Unauthorized,
    /// 403 with a detail: a missing scope (`Forbidden`), duplicate content, ...
    #[error("{0}")]
    Forbidden(String),
    /// 400 with the parameter errors X lists.
    #[error("One or more parameters to your request was invalid.")]
    InvalidRequest(Vec<String>),
    #[error("Too Many Requests")]
    RateLimited(Window),
    #[error("Service Unavailable")]
    Unavailable,
    /// Only when a drop-after-commit fault cannot cut the connection (no socket kept for it).
    #[error("The connection was dropped")]
    DropUnavailable,
    #[error("Not Found")]
    NotFound,
    /// The token endpoint's errors.
    #[error("{error}: {description}")]
    OAuth {
        status: StatusCode,
        error: &'static str,
        description: String,
    },
}

impl XError {
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        XError::InvalidRequest(vec![message.into()])
    }

    pub(crate) fn oauth(error: &'static str, description: impl Into<String>) -> Self {
        XError::OAuth {
            status: StatusCode::BAD_REQUEST,
            error,
            description: description.into(),
        }
    }

    fn problem(&self) -> Value {
        let status = self.status_code().as_u16();
        match self {
            XError::InvalidRequest(messages) => json!({
                "errors": messages.iter().map(|m| json!({ "message": m })).collect::<Vec<_>>(),
                "title": "Invalid Request",
                "detail": self.to_string(),
                "type": "https://api.twitter.com/2/problems/invalid-request",
            }),
            XError::Unauthorized => problem("Unauthorized", status, "Unauthorized"),
            XError::Forbidden(detail) => problem("Forbidden", status, detail),
            XError::RateLimited(_) => problem("Too Many Requests", status, "Too Many Requests"),
            XError::Unavailable | XError::DropUnavailable => {
                problem("Service Unavailable", status, &self.to_string())
            }
            XError::NotFound => problem("Not Found", status, "Not Found"),
            XError::OAuth {
                error, description, ..
            } => json!({ "error": error, "error_description": description }),
        }
    }
}

fn problem(title: &str, status: u16, detail: &str) -> Value {
    json!({ "title": title, "type": "about:blank", "status": status, "detail": detail })
}

impl ResponseError for XError {
    fn status_code(&self) -> StatusCode {
        match self {
            XError::Unauthorized => StatusCode::UNAUTHORIZED,
            XError::Forbidden(_) => StatusCode::FORBIDDEN,
            XError::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            XError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            XError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            XError::DropUnavailable => StatusCode::BAD_GATEWAY,
            XError::NotFound => StatusCode::NOT_FOUND,
            XError::OAuth { status, .. } => *status,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let content_type = match self {
            XError::OAuth { .. } => "application/json;charset=UTF-8",
            _ => "application/problem+json",
        };
        let mut response = HttpResponse::build(self.status_code())
            .content_type(content_type)
            .body(self.problem().to_string());
        if let XError::RateLimited(window) = self {
            rate_limit::apply_headers(&mut response, window);
        }
        response
    }
}
