//! Graph API error answers: `{"error": {message, type, code, error_subcode, is_transient,
//! error_user_title, error_user_msg, fbtrace_id}}` with the codes Meta documents, so adapters
//! classify by `code` as they must in production (Graph's HTTP statuses say little: most
//! refusals are 400, throttling is 403).

use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderValue, WWW_AUTHENTICATE};
use actix_web::{HttpResponse, ResponseError};
use rand::Rng;
use rand::distributions::Alphanumeric;
use serde_json::{Map, Value, json};

use super::usage;

/// Boxed: handlers pass errors around in `Result`s, which should stay small.
#[derive(Debug, Clone)]
pub(crate) struct GraphError(Box<Details>);

#[derive(Debug, Clone)]
struct Details {
    status: StatusCode,
    message: String,
    kind: &'static str,
    code: i64,
    subcode: Option<i64>,
    is_transient: bool,
    user_title: Option<&'static str>,
    user_msg: Option<String>,
    /// A throttled answer carries exhausted usage headers (and Instagram's per-user ones).
    throttled_user: Option<(String, bool)>,
}

impl std::fmt::Display for GraphError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "({}) {}", self.0.code, self.0.message)
    }
}

impl GraphError {
    fn new(status: StatusCode, code: i64, message: impl Into<String>) -> Self {
        Self(Box::new(Details {
            status,
            message: message.into(),
            kind: "OAuthException",
            code,
            subcode: None,
            is_transient: false,
            user_title: None,
            user_msg: None,
            throttled_user: None,
        }))
    }

    fn subcode(mut self, subcode: i64) -> Self {
        self.0.subcode = Some(subcode);
        self
    }

    fn user(mut self, title: &'static str, message: impl Into<String>) -> Self {
        self.0.user_title = Some(title);
        self.0.user_msg = Some(message.into());
        self
    }

    fn transient(mut self) -> Self {
        self.0.is_transient = true;
        self
    }

    pub(crate) fn token_missing() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            104,
            "An access token is required to request this resource.",
        )
    }

    /// A token whose session has ended (the sandbox's `expired-` tokens).
    pub(crate) fn token_expired() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            190,
            "Error validating access token: Session has expired. The current time is after \
             the token's expiry.",
        )
        .subcode(463)
    }

    /// The token lacks the permission for this read (the sandbox's `noscope-` tokens).
    pub(crate) fn permission() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            10,
            "(#10) Application does not have permission for this action",
        )
    }

    pub(crate) fn unsupported(method: &str, id: &str) -> Self {
        let mut error = Self::new(
            StatusCode::BAD_REQUEST,
            100,
            format!(
                "Unsupported {method} request. Object with ID '{id}' does not exist, cannot be \
                 loaded due to missing permissions, or does not support this operation. Please \
                 read the Graph API documentation at https://developers.facebook.com/docs/graph-api"
            ),
        )
        .subcode(33);
        error.0.kind = "GraphMethodException";
        error
    }

    pub(crate) fn unknown_path(path: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            2500,
            format!("Unknown path components: {path}"),
        )
    }

    pub(crate) fn missing_param(name: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            100,
            format!("(#100) The parameter {name} is required"),
        )
    }

    pub(crate) fn invalid_param(title: &'static str, user_msg: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, 100, "Invalid parameter").user(title, user_msg)
    }

    pub(crate) fn nonexisting_field(field: &str, node_type: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            100,
            format!(
                "(#100) Tried accessing nonexisting field ({field}) on node type ({node_type})"
            ),
        )
    }

    /// Instagram fetches `image_url` when the container is created and refuses what it
    /// cannot fetch.
    pub(crate) fn media_unfetchable(url: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            9004,
            "Only photo or video can be accepted as media type.",
        )
        .subcode(2_207_052)
        .user(
            "Media download has failed",
            format!(
                "The media could not be fetched from this URI: {url}. Please check the URI \
                 and try again."
            ),
        )
    }

    /// Publishing a container that is still processing.
    pub(crate) fn not_ready() -> Self {
        Self::new(StatusCode::BAD_REQUEST, 9007, "Media ID is not available")
            .subcode(2_207_027)
            .user(
                "Media not ready for publishing",
                "The media is not ready for publishing, please wait for a moment",
            )
    }

    /// Publishing a container that was already published or has expired: its builder is gone.
    pub(crate) fn builder_gone(creation_id: &str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, 100, "Invalid parameter")
            .subcode(2_207_008)
            .user(
                "Media builder expired",
                format!(
                    "The media builder with creation id = {creation_id} does not exist or has \
                     been expired."
                ),
            )
    }

    /// Publishing a container whose processing failed.
    pub(crate) fn container_failed() -> Self {
        Self::new(StatusCode::BAD_REQUEST, 9004, "Media upload has failed")
            .subcode(2_207_052)
            .user(
                "Media download has failed",
                "The media could not be fetched from the URI given to the container.",
            )
    }

    /// The moving 24-hour publishing quota is used up.
    pub(crate) fn quota_reached() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            9,
            "Application request limit reached",
        )
        .subcode(2_207_042)
        .user(
            "Max posts reached",
            "You reached maximum number of posts that is allowed to be published by Content \
             Publishing API.",
        )
    }

    /// Call-rate throttling; `instagram` adds Instagram's per-user usage header.
    pub(crate) fn throttled(user_id: &str, instagram: bool) -> Self {
        let mut error = Self::new(
            StatusCode::FORBIDDEN,
            4,
            "(#4) Application request limit reached",
        )
        .transient();
        error.0.throttled_user = Some((user_id.to_owned(), instagram));
        error
    }

    /// An outage, before the request was processed.
    pub(crate) fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            2,
            "Service temporarily unavailable",
        )
        .transient()
    }

    /// Only when a drop-after-commit fault cannot cut the connection.
    pub(crate) fn drop_unavailable() -> Self {
        Self::new(StatusCode::BAD_GATEWAY, 1, "An unknown error has occurred.").transient()
    }

    pub(crate) fn body(&self) -> Value {
        let details = &self.0;
        let mut error = Map::new();
        error.insert("message".into(), json!(details.message));
        error.insert("type".into(), json!(details.kind));
        error.insert("code".into(), json!(details.code));
        if let Some(subcode) = details.subcode {
            error.insert("error_subcode".into(), json!(subcode));
        }
        error.insert("is_transient".into(), json!(details.is_transient));
        if let Some(title) = details.user_title {
            error.insert("error_user_title".into(), json!(title));
        }
        if let Some(msg) = &details.user_msg {
            error.insert("error_user_msg".into(), json!(msg));
        }
        error.insert("fbtrace_id".into(), json!(fbtrace_id()));
        json!({ "error": error })
    }
}

impl ResponseError for GraphError {
    fn status_code(&self) -> StatusCode {
        self.0.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.0.status).json(self.body());
        if self.0.code == 190 || self.0.code == 104 {
            // Graph's challenge on token errors.
            let challenge = format!(
                "OAuth \"Facebook Platform\" \"invalid_token\" \"{}\"",
                self.0.message.replace('"', "'")
            );
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                response.headers_mut().insert(WWW_AUTHENTICATE, value);
            }
        }
        if let Some((user_id, instagram)) = &self.0.throttled_user {
            usage::apply_exhausted(&mut response, user_id, *instagram);
            // The injected throttle is a short burst limit: it also says when to come back
            // (Threads sends no time to regain access otherwise).
            response.headers_mut().insert(
                actix_web::http::header::RETRY_AFTER,
                HeaderValue::from_static("2"),
            );
        }
        response
    }
}

/// Graph's request trace id, opaque to clients.
fn fbtrace_id() -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(23)
        .map(char::from)
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn bodies_have_graphs_shape() {
        let body = GraphError::quota_reached().body();
        assert_eq!(body["error"]["code"], 9);
        assert_eq!(body["error"]["error_subcode"], 2_207_042);
        assert_eq!(body["error"]["type"], "OAuthException");
        assert_eq!(body["error"]["fbtrace_id"].as_str().unwrap().len(), 23);
        let throttled = GraphError::throttled("1", true).error_response();
        assert_eq!(throttled.status(), StatusCode::FORBIDDEN);
        assert!(
            throttled
                .headers()
                .contains_key("x-business-use-case-usage")
        );
    }
}
