//! `POST /2/oauth2/token`: X's OAuth 2.0 token endpoint, for the `refresh_token` grant
//! (single-use refresh tokens, rotated on every exchange) and, so tests can start from an
//! issued pair, the `authorization_code` grant (any `code` stands for a user derived from it;
//! no redirect or PKCE checks).
//!
//! The client authenticates with HTTP Basic (confidential clients) or sends `client_id`
//! (public clients). Sandbox convention: a refresh token starting with `keep-` is not rotated:
//! the answer has no `refresh_token` and the token stays valid.

use actix_web::http::header::AUTHORIZATION;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, ResponseError, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use super::auth::{EXPIRED_PREFIX, user_id_for_token};
use super::error::XError;
use crate::state::Shared;

const ACCESS_TTL: Duration = Duration::hours(2);
const SCOPE: &str = "tweet.read tweet.write users.read offline.access";
pub(crate) const KEEP_PREFIX: &str = "keep-";

pub(crate) async fn token(
    req: HttpRequest,
    body: web::Bytes,
    shared: web::Data<Shared>,
) -> HttpResponse {
    match exchange(&req, &body, &shared, Utc::now()) {
        Ok(response) => response,
        Err(error) => error.error_response(),
    }
}

fn exchange(
    req: &HttpRequest,
    body: &[u8],
    shared: &Shared,
    now: DateTime<Utc>,
) -> Result<HttpResponse, XError> {
    if req.content_type() != "application/x-www-form-urlencoded" {
        return Err(missing("grant_type"));
    }
    let form = std::str::from_utf8(body).map_err(|_| missing("grant_type"))?;
    let pairs = web::Query::<Vec<(String, String)>>::from_query(form)
        .map_err(|_| missing("grant_type"))?
        .into_inner();
    let param = |key: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    client_id(req, param("client_id"))?;
    match param("grant_type").ok_or_else(|| missing("grant_type"))? {
        "refresh_token" => {
            let refresh_token = param("refresh_token").ok_or_else(|| missing("refresh_token"))?;
            let invalid =
                || XError::oauth("invalid_request", "Value passed for the token was invalid.");
            if refresh_token.starts_with(EXPIRED_PREFIX) {
                return Err(invalid());
            }
            let (kept, user_token) = match refresh_token.strip_prefix(KEEP_PREFIX) {
                Some(rest) => (true, rest),
                None => (false, refresh_token),
            };
            if user_token.is_empty() {
                return Err(invalid());
            }
            if !kept && !shared.lock().x.spend_refresh_token(refresh_token) {
                return Err(invalid());
            }
            let user_id = user_id_for_token(user_token);
            tracing::info!(x.user_id = user_id, rotated = !kept, "x token refreshed");
            Ok(issue(user_id, !kept, now))
        }
        "authorization_code" => {
            let code = param("code").ok_or_else(|| missing("code"))?;
            Ok(issue(user_id_for_token(code), true, now))
        }
        _ => Err(XError::oauth(
            "invalid_request",
            "Value passed for the grant type was invalid.",
        )),
    }
}

fn missing(parameter: &str) -> XError {
    XError::oauth(
        "invalid_request",
        format!("Missing required parameter [{parameter}]."),
    )
}

/// The client: HTTP Basic `client_id:client_secret`, else the `client_id` parameter.
fn client_id(req: &HttpRequest, form_client_id: Option<&str>) -> Result<String, XError> {
    if let Some(header) = req.headers().get(AUTHORIZATION) {
        let unauthorized = || XError::OAuth {
            status: actix_web::http::StatusCode::UNAUTHORIZED,
            error: "unauthorized_client",
            description: "Missing valid authorization header".to_owned(),
        };
        let encoded = header
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Basic "))
            .ok_or_else(unauthorized)?;
        let decoded = STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(unauthorized)?;
        let (id, secret) = decoded.split_once(':').ok_or_else(unauthorized)?;
        if id.is_empty() || secret.is_empty() {
            return Err(unauthorized());
        }
        return Ok(id.to_owned());
    }
    form_client_id
        .map(str::to_owned)
        .ok_or_else(|| missing("client_id"))
}

fn issue(user_id: u64, with_refresh_token: bool, now: DateTime<Utc>) -> HttpResponse {
    let nonce = || hex::encode(rand::random::<[u8; 12]>());
    let expires = (now + ACCESS_TTL).timestamp();
    let mut body = json!({
        "token_type": "bearer",
        "expires_in": ACCESS_TTL.num_seconds(),
        "access_token": format!("xat.{user_id}.{expires}.{}", nonce()),
        "scope": SCOPE,
    });
    if with_refresh_token {
        body["refresh_token"] = json!(format!("xrt.{user_id}.{}", nonce()));
    }
    HttpResponse::Ok().json(body)
}
