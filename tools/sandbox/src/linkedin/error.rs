//! LinkedIn's error answers: `{"status", "serviceErrorCode", "code", "message"}` with the
//! texts LinkedIn sends, Rest.li validation errors (`ERROR :: /field :: ...`), and the
//! `DUPLICATE_POST` shape of the Posts API.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    #[error(
        "A version must be present. Please specify a version by adding the LinkedIn-Version header."
    )]
    VersionMissing,
    /// The version as LinkedIn prints it (`20250401` for `202504`).
    #[error("Requested version {0} is not active")]
    VersionInactive(String),
    #[error("Empty oauth2_access_token")]
    MissingToken,
    #[error("Invalid access token")]
    InvalidToken,
    #[error("The token used in the request has expired")]
    ExpiredToken,
    /// The Rest.li resource and method refused, e.g. `partnerApiPostsExternal.CREATE.20251001`.
    #[error("Not enough permissions to access: {0}")]
    AccessDenied(String),
    #[error("Not Found")]
    NotFound,
    #[error("{0}")]
    BadRequest(String),
    /// A Rest.li data validation failure: the field path and what is wrong with it.
    #[error("ERROR :: {path} :: {problem}\n")]
    Validation { path: String, problem: String },
    /// The URN of the earlier post with the same content.
    #[error(
        "com.linkedin.content.common.exception.BadRequestResponseException: Content is a duplicate of {0}"
    )]
    Duplicate(String),
    #[error("Resource level throttle APPLICATION DAY limit for calls to this resource is reached.")]
    RateLimited,
    #[error("Service Unavailable")]
    Unavailable,
    /// Only when a drop-after-commit fault cannot cut the connection (no socket kept for it).
    #[error("The connection was dropped")]
    DropUnavailable,
}

impl ApiError {
    pub(crate) fn validation(path: &str, problem: impl Into<String>) -> Self {
        ApiError::Validation {
            path: path.to_owned(),
            problem: problem.into(),
        }
    }

    /// `serviceErrorCode` and `code`, where LinkedIn sends them.
    fn codes(&self) -> (Option<u32>, Option<&'static str>) {
        match self {
            ApiError::VersionMissing => (None, Some("VERSION_MISSING")),
            ApiError::VersionInactive(_) => (None, Some("NONEXISTENT_VERSION")),
            ApiError::MissingToken => (Some(401), None),
            ApiError::InvalidToken => (Some(65600), Some("INVALID_ACCESS_TOKEN")),
            ApiError::ExpiredToken => (Some(65601), Some("EXPIRED_ACCESS_TOKEN")),
            ApiError::AccessDenied(_) => (Some(100), Some("ACCESS_DENIED")),
            ApiError::NotFound => (None, Some("NOT_FOUND")),
            ApiError::BadRequest(_) => (None, Some("ILLEGAL_ARGUMENT")),
            ApiError::RateLimited => (Some(101), Some("TOO_MANY_REQUESTS")),
            ApiError::Validation { .. }
            | ApiError::Duplicate(_)
            | ApiError::Unavailable
            | ApiError::DropUnavailable => (None, None),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::VersionMissing | ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::VersionInactive(_) => StatusCode::UPGRADE_REQUIRED,
            ApiError::MissingToken | ApiError::InvalidToken | ApiError::ExpiredToken => {
                StatusCode::UNAUTHORIZED
            }
            ApiError::AccessDenied(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Validation { .. } | ApiError::Duplicate(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::DropUnavailable => StatusCode::BAD_GATEWAY,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code().as_u16();
        let body = match self {
            ApiError::Duplicate(_) => json!({
                "errorDetailType": "com.linkedin.common.error.BadRequest",
                "message": self.to_string(),
                "errorDetails": {
                    "inputErrors": [{
                        "description": "Duplicate post is detected",
                        "input": {},
                        "code": "DUPLICATE_POST",
                    }],
                },
                "status": status,
            }),
            _ => {
                let mut body = json!({ "status": status, "message": self.to_string() });
                let (service_code, code) = self.codes();
                if let Some(service_code) = service_code {
                    body["serviceErrorCode"] = json!(service_code);
                }
                if let Some(code) = code {
                    body["code"] = json!(code);
                }
                body
            }
        };
        // No rate-limit headers: LinkedIn's limits are daily and unannounced. The one exception
        // is the injected throttle, a short burst limit that says when to come back, so a
        // faulted run waits seconds rather than until midnight.
        let mut response = HttpResponse::build(self.status_code());
        if matches!(self, ApiError::RateLimited) {
            response.insert_header(("Retry-After", "2"));
        }
        response.json(body)
    }
}
