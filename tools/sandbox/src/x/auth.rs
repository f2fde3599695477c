//! OAuth 2.0 user-context bearer tokens. There is no real authorization server: every
//! non-empty token is valid and maps to a stable user, so a token in a test fixture is a
//! stable identity. Tokens the sandbox issues itself (`POST /2/oauth2/token`) carry their
//! user, so refreshed tokens act for the same user as the ones they replace:
//!
//! - `xat.<user id>.<expiry, unix seconds>.<nonce>`: an issued access token (2 hours);
//! - `xrt.<user id>.<nonce>`: an issued refresh token;
//! - any other token: the user derived from a hash of the token.
//!
//! Test conventions: a token starting with `expired-` is refused with X's 401; a token
//! starting with `noscope-` acts for the same user as the rest of it but lacks `tweet.read`
//! and `users.read`, so every read answers X's 403 (posting still works).

use actix_web::HttpRequest;
use actix_web::http::header::AUTHORIZATION;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::error::XError;

pub(crate) const EXPIRED_PREFIX: &str = "expired-";
pub(crate) const NO_SCOPE_PREFIX: &str = "noscope-";

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct User {
    pub(crate) id: u64,
    pub(crate) username: String,
    pub(crate) name: String,
}

/// The user behind a request, and whether the token may read.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub(crate) user: User,
    pub(crate) can_read: bool,
}

impl Caller {
    /// X answers a token without the read scopes with a bare 403.
    pub(crate) fn require_read(&self) -> Result<(), XError> {
        if self.can_read {
            Ok(())
        } else {
            Err(XError::Forbidden("Forbidden".to_owned()))
        }
    }
}

pub(crate) fn user(id: u64) -> User {
    let digest = Sha256::digest(id.to_be_bytes());
    let tag = hex::encode(&digest[..4]);
    User {
        id,
        username: format!("user_{tag}"),
        name: format!("Sandbox User {tag}"),
    }
}

/// The user a token (without test prefixes) acts for.
pub(crate) fn user_id_for_token(token: &str) -> u64 {
    if let Some(id) = issued_user(token) {
        return id;
    }
    let digest = Sha256::digest(token.as_bytes());
    let first: [u8; 8] = digest[..8].try_into().unwrap_or_default();
    // Below 2^62: X user ids are positive 64-bit integers, usually far smaller.
    u64::from_be_bytes(first) >> 2
}

fn issued_user(token: &str) -> Option<u64> {
    let mut parts = token.split('.');
    match parts.next()? {
        "xat" | "xrt" => parts.next()?.parse().ok(),
        _ => None,
    }
}

/// When an issued access token stops working; `None` for tokens the sandbox did not issue.
fn issued_expiry(token: &str) -> Option<i64> {
    let mut parts = token.split('.');
    (parts.next()? == "xat").then_some(())?;
    parts.next()?;
    parts.next()?.parse().ok()
}

pub(crate) fn caller(req: &HttpRequest, now: DateTime<Utc>) -> Result<Caller, XError> {
    let header = req
        .headers()
        .get(AUTHORIZATION)
        .ok_or(XError::Unauthorized)?;
    let value = header.to_str().map_err(|_| XError::Unauthorized)?;
    let (scheme, token) = value.split_once(' ').ok_or(XError::Unauthorized)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(XError::Unauthorized);
    }
    if token.starts_with(EXPIRED_PREFIX) {
        return Err(XError::Unauthorized);
    }
    let (token, can_read) = match token.strip_prefix(NO_SCOPE_PREFIX) {
        Some(rest) => (rest, false),
        None => (token, true),
    };
    if token.is_empty() || issued_expiry(token).is_some_and(|exp| exp <= now.timestamp()) {
        return Err(XError::Unauthorized);
    }
    Ok(Caller {
        user: user(user_id_for_token(token)),
        can_read,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn issued_tokens_carry_their_user_and_others_hash_to_one() {
        assert_eq!(user_id_for_token("xat.42.99999999999.abc"), 42);
        assert_eq!(user_id_for_token("xrt.42.abc"), 42);
        let a = user_id_for_token("token-a");
        assert_eq!(a, user_id_for_token("token-a"));
        assert_ne!(a, user_id_for_token("token-b"));
        assert!(i64::try_from(a).is_ok());
        assert_eq!(user(a), user(a));
    }
}
