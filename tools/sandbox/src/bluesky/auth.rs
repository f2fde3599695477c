//! Bearer tokens on XRPC calls: the access JWT for repository writes and the refresh JWT for
//! `refreshSession`, refused with the PDS's own errors (401 `AuthMissing` without a header,
//! 400 `ExpiredToken` / `InvalidToken` for a token it cannot use).

use actix_web::HttpRequest;
use actix_web::http::header::AUTHORIZATION;
use chrono::{DateTime, Utc};

use super::error::XrpcError;
use super::jwt::{self, Claims, Kind};

fn bearer(req: &HttpRequest) -> Result<Option<String>, XrpcError> {
    let Some(header) = req.headers().get(AUTHORIZATION) else {
        return Ok(None);
    };
    let value = header
        .to_str()
        .map_err(|_| XrpcError::invalid_token("Malformed token"))?;
    // The PDS only looks for the exact `Bearer ` prefix.
    match value.strip_prefix("Bearer ") {
        Some(token) if !token.trim().is_empty() => Ok(Some(token.trim().to_owned())),
        _ => Err(XrpcError::auth_missing()),
    }
}

/// The caller's DID from a valid access token.
pub(crate) fn access(req: &HttpRequest, now: DateTime<Utc>) -> Result<String, XrpcError> {
    optional_access(req, now)?.ok_or_else(XrpcError::auth_missing)
}

/// Like [`access`], for methods where authentication is optional (a present token must work).
pub(crate) fn optional_access(
    req: &HttpRequest,
    now: DateTime<Utc>,
) -> Result<Option<String>, XrpcError> {
    bearer(req)?
        .map(|token| jwt::verify(&token, Kind::Access, now).map(|claims| claims.sub))
        .transpose()
}

/// The claims of a valid refresh token.
pub(crate) fn refresh(req: &HttpRequest, now: DateTime<Utc>) -> Result<Claims, XrpcError> {
    let token = bearer(req)?.ok_or_else(XrpcError::auth_missing)?;
    let claims = jwt::verify(&token, Kind::Refresh, now)?;
    if claims.jti.is_none() {
        return Err(XrpcError::named(
            "MissingTokenId",
            "Unexpected missing refresh token id",
        ));
    }
    Ok(claims)
}
