//! `com.atproto.server.createSession` (identifier + app password → session tokens) and
//! `com.atproto.server.refreshSession` (refresh JWT as bearer → both tokens rotated).
//!
//! Any identifier with any non-empty password opens a session for a stable account: a handle
//! maps to a `did:plc` derived from it, a DID to itself. Sandbox conventions for tests, by
//! app-password prefix: `wrong-` is refused (401 `AuthenticationRequired`), `expired-` issues
//! an access token that has already expired, `norotate-` issues a refresh token that
//! `refreshSession` does not rotate (its answer then has no `refreshJwt`).

use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use chrono::{Duration, Utc};
use serde_json::json;

use super::auth;
use super::error::XrpcError;
use super::input;
use super::jwt::{self, ACCESS_TTL, Claims, Kind, REFRESH_TTL};
use super::rate_limit::{self, SESSIONS};
use super::store::{BlueskyState, INVALID_HANDLE, Rotation, did_for_handle};
use crate::state::Shared;

pub(crate) async fn create_session(
    req: HttpRequest,
    body: web::Bytes,
    shared: web::Data<Shared>,
) -> HttpResponse {
    let now = Utc::now();
    let credentials = input::object(&req, &body).and_then(|map| {
        let identifier = input::required_str(&map, "identifier")?;
        let password = input::required_str(&map, "password")?;
        Ok((identifier.trim().to_owned(), password))
    });
    let (identifier, password) = match credentials {
        Ok(credentials) => credentials,
        Err(error) => return error.error_response(),
    };
    let mut state = shared.lock();
    let window =
        match state
            .bluesky
            .rate
            .consume(&identifier.to_ascii_lowercase(), &SESSIONS, 1, now)
        {
            Ok(window) => window,
            Err(refused) => return XrpcError::rate_limited(refused).error_response(),
        };
    if identifier.is_empty() || password.is_empty() || password.starts_with("wrong-") {
        let error = XrpcError::auth_required("Invalid identifier or password");
        return rate_limit::respond(Err(error), window);
    }
    let (did, handle) = account_for(&state.bluesky, &identifier);
    state.bluesky.register(&did, &handle);
    drop(state);

    let access_expires = if password.starts_with("expired-") {
        now - Duration::minutes(1)
    } else {
        now + ACCESS_TTL
    };
    let access_jwt = jwt::mint(Kind::Access, &Claims::access(&did, now, access_expires));
    let mut refresh = Claims::refresh(&did, now, now + REFRESH_TTL, new_token_id());
    refresh.sandbox_no_rotation = password.starts_with("norotate-");
    let refresh_jwt = jwt::mint(Kind::Refresh, &refresh);
    tracing::info!(bluesky.did = %did, "bluesky session created");
    let body = session_json(&access_jwt, Some(&refresh_jwt), &handle, &did);
    rate_limit::respond(Ok(HttpResponse::Ok().json(body)), window)
}

pub(crate) async fn refresh_session(req: HttpRequest, shared: web::Data<Shared>) -> HttpResponse {
    let now = Utc::now();
    let claims = match auth::refresh(&req, now) {
        Ok(claims) => claims,
        Err(error) => return error.error_response(),
    };
    let jti = claims.jti.clone().unwrap_or_default();
    let mut state = shared.lock();
    let handle = state
        .bluesky
        .handle(&claims.sub)
        .unwrap_or(INVALID_HANDLE)
        .to_owned();
    match state.bluesky.rotation(&jti, now) {
        // A retried refresh within the grace period gets the session it already produced.
        Some(Ok(rotation)) => {
            let body = session_json(
                &rotation.access_jwt,
                Some(&rotation.refresh_jwt),
                &handle,
                &claims.sub,
            );
            return HttpResponse::Ok().json(body);
        }
        Some(Err(())) => {
            return XrpcError::named("ExpiredToken", "Token has been revoked").error_response();
        }
        None => {}
    }
    let access_jwt = jwt::mint(
        Kind::Access,
        &Claims::access(&claims.sub, now, now + ACCESS_TTL),
    );
    let body = if claims.sandbox_no_rotation {
        session_json(&access_jwt, None, &handle, &claims.sub)
    } else {
        let refresh_jwt = jwt::mint(
            Kind::Refresh,
            &Claims::refresh(&claims.sub, now, now + REFRESH_TTL, new_token_id()),
        );
        state.bluesky.rotated(
            &jti,
            Rotation {
                access_jwt: access_jwt.clone(),
                refresh_jwt: refresh_jwt.clone(),
                rotated_at: now,
            },
        );
        session_json(&access_jwt, Some(&refresh_jwt), &handle, &claims.sub)
    };
    tracing::info!(bluesky.did = %claims.sub, "bluesky session refreshed");
    HttpResponse::Ok().json(body)
}

/// The account an identifier names: a known DID or handle, a new handle, or an email
/// (whose local part becomes the handle).
fn account_for(state: &BlueskyState, identifier: &str) -> (String, String) {
    let identifier = identifier.trim_start_matches('@').to_ascii_lowercase();
    if identifier.starts_with("did:") {
        let handle = state.handle(&identifier).unwrap_or(INVALID_HANDLE);
        return (identifier.clone(), handle.to_owned());
    }
    let handle = match identifier.split_once('@') {
        Some((local, _)) => format!("{local}.bsky.social"),
        None => identifier,
    };
    let did = state
        .resolve(&handle)
        .unwrap_or_else(|| did_for_handle(&handle));
    (did, handle)
}

fn new_token_id() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

fn session_json(
    access_jwt: &str,
    refresh_jwt: Option<&str>,
    handle: &str,
    did: &str,
) -> serde_json::Value {
    let mut body = json!({
        "accessJwt": access_jwt,
        "handle": handle,
        "did": did,
        "active": true,
    });
    if let Some(refresh_jwt) = refresh_jwt {
        body["refreshJwt"] = json!(refresh_jwt);
    }
    body
}
