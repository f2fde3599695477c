//! Graph API error objects: `{"error": {message, type, code, error_subcode?, is_transient?,
//! fbtrace_id}}`, with the HTTP statuses and texts Graph sends.

use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderValue, WWW_AUTHENTICATE};
use actix_web::{HttpResponse, ResponseError};
use chrono::{DateTime, Utc};
use rand::Rng;
use rand::distributions::Alphanumeric;
use serde_json::json;

use super::usage::{self, Usage};

#[derive(Debug, thiserror::Error)]
pub(crate) enum GraphError {
    #[error("An access token is required to request this resource.")]
    MissingToken,
    #[error("Invalid OAuth access token - Cannot parse access token")]
    InvalidToken,
    #[error("Error validating access token: Session has expired on {}. The current time is {}.", .expired_at.format("%A, %d-%b-%y %H:%M:%S UTC"), .now.format("%A, %d-%b-%y %H:%M:%S UTC"))]
    ExpiredToken {
        expired_at: DateTime<Utc>,
        now: DateTime<Utc>,
    },
    /// An id that is not a node here (or not one this method applies to).
    #[error(
        "Unsupported {method} request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api"
    )]
    UnknownObject { method: &'static str, id: String },
    #[error("(#100) {0}")]
    InvalidParameter(String),
    #[error(
        "(#10) This endpoint requires the 'pages_read_engagement' permission or the 'Page Public Content Access' feature. Refer to https://developers.facebook.com/docs/apps/review/login-permissions#manage-pages and https://developers.facebook.com/docs/apps/review/feature#reference-PAGES_ACCESS for details."
    )]
    ReadPermission,
    #[error(
        "(#200) If posting to a page, requires both pages_read_engagement and pages_manage_posts as an admin with sufficient administrative permission"
    )]
    PublishPermission,
    #[error("(#506) Duplicate status message")]
    Duplicate,
    /// The page's budget is used up; the usage to report with it.
    #[error(
        "(#80001) There have been too many calls to this Page account. Wait a bit and try again. For more info, please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting."
    )]
    PageRateLimited(Usage),
    #[error("Unknown path components: {0}")]
    UnknownPath(String),
    #[error("An unexpected error has occurred. Please retry your request later.")]
    Temporary,
    /// Only when a drop-after-commit fault cannot cut the connection (no socket kept for it).
    #[error("The connection was dropped")]
    DropUnavailable,
}

impl GraphError {
    fn code(&self) -> u32 {
        match self {
            GraphError::MissingToken => 104,
            GraphError::InvalidToken | GraphError::ExpiredToken { .. } => 190,
            GraphError::UnknownObject { .. } | GraphError::InvalidParameter(_) => 100,
            GraphError::ReadPermission => 10,
            GraphError::PublishPermission => 200,
            GraphError::Duplicate => 506,
            GraphError::PageRateLimited(_) => 80001,
            GraphError::UnknownPath(_) => 2500,
            GraphError::Temporary | GraphError::DropUnavailable => 2,
        }
    }

    fn subcode(&self) -> Option<u32> {
        match self {
            GraphError::ExpiredToken { .. } => Some(463),
            GraphError::UnknownObject { .. } => Some(33),
            _ => None,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            GraphError::UnknownObject { .. } => "GraphMethodException",
            _ => "OAuthException",
        }
    }
}

impl ResponseError for GraphError {
    fn status_code(&self) -> StatusCode {
        match self {
            GraphError::ReadPermission | GraphError::PublishPermission => StatusCode::FORBIDDEN,
            GraphError::Temporary => StatusCode::INTERNAL_SERVER_ERROR,
            GraphError::DropUnavailable => StatusCode::BAD_GATEWAY,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut error = json!({
            "message": self.to_string(),
            "type": self.kind(),
            "code": self.code(),
            "fbtrace_id": fbtrace_id(),
        });
        if let Some(subcode) = self.subcode() {
            error["error_subcode"] = json!(subcode);
        }
        if matches!(self, GraphError::Temporary) {
            error["is_transient"] = json!(true);
        }
        let mut response = HttpResponse::build(self.status_code()).json(json!({ "error": error }));
        match self {
            GraphError::MissingToken
            | GraphError::InvalidToken
            | GraphError::ExpiredToken { .. } => {
                let challenge = format!(
                    "OAuth \"Facebook Platform\" \"invalid_token\" \"{}\"",
                    self.to_string().replace('"', "'")
                );
                if let Ok(value) = HeaderValue::from_str(&challenge) {
                    response.headers_mut().insert(WWW_AUTHENTICATE, value);
                }
            }
            GraphError::PageRateLimited(usage) => usage::apply_headers(&mut response, usage),
            _ => {}
        }
        response
    }
}

/// Graph's per-request trace id: 11 random characters.
fn fbtrace_id() -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(11)
        .map(char::from)
        .collect()
}
