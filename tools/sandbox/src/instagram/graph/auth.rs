//! Access tokens. There is no OAuth here: any non-empty token is valid and always maps to the
//! same user, so a token in a test fixture is a stable identity. Tokens are read from
//! `Authorization: Bearer|OAuth <token>`, or the `access_token` parameter (query or body).
//!
//! Test hooks, by prefix: `expired-…` is refused as an expired session (code 190); `noscope-…`
//! authenticates but lacks the read permission, so reads of containers, media and insights get
//! Graph's permission error (code 10). A refreshed token (`<token>~refreshed-<hex>`) maps to
//! the same user as the token it replaced, and keeps its prefix.

use actix_web::HttpRequest;
use actix_web::http::header::AUTHORIZATION;
use sha2::{Digest, Sha256};

use super::Flavor;
use super::error::GraphError;
use super::params::Params;

pub(crate) const EXPIRED_PREFIX: &str = "expired-";
pub(crate) const NOSCOPE_PREFIX: &str = "noscope-";
pub(crate) const REFRESHED_MARK: &str = "~refreshed-";

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Account {
    pub(crate) id: String,
    pub(crate) username: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub(crate) account: Account,
    /// False for `noscope-` tokens: no reads of containers, media or insights.
    pub(crate) can_read: bool,
    pub(crate) token: String,
}

impl Caller {
    pub(crate) fn require_read(&self) -> Result<(), GraphError> {
        if self.can_read {
            Ok(())
        } else {
            Err(GraphError::permission())
        }
    }
}

/// The token without the refresh suffix: what the user is derived from.
fn root(token: &str) -> &str {
    token.split(REFRESHED_MARK).next().unwrap_or(token)
}

pub(crate) fn account_for_token(flavor: &Flavor, token: &str) -> Account {
    let digest = Sha256::digest(root(token).as_bytes());
    let first: [u8; 8] = digest[..8].try_into().unwrap_or_default();
    let n = u64::from_be_bytes(first) % 10_000_000_000_000;
    Account {
        id: (flavor.user_id_base + n).to_string(),
        username: format!("user_{}", &hex::encode(digest)[..8]),
    }
}

/// The request's token, wherever Graph accepts it.
pub(crate) fn token(req: &HttpRequest, params: &Params) -> Option<String> {
    if let Some(header) = req.headers().get(AUTHORIZATION) {
        let value = header.to_str().ok()?;
        let (scheme, token) = value.split_once(' ')?;
        let token = token.trim();
        let known = scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("oauth");
        return (known && !token.is_empty()).then(|| token.to_owned());
    }
    params.get("access_token").map(str::to_owned)
}

pub(crate) fn caller(
    flavor: &Flavor,
    req: &HttpRequest,
    params: &Params,
) -> Result<Caller, GraphError> {
    let token = token(req, params).ok_or_else(GraphError::token_missing)?;
    check(flavor, token)
}

pub(crate) fn check(flavor: &Flavor, token: String) -> Result<Caller, GraphError> {
    if token.starts_with(EXPIRED_PREFIX) {
        return Err(GraphError::token_expired());
    }
    Ok(Caller {
        account: account_for_token(flavor, &token),
        can_read: !token.starts_with(NOSCOPE_PREFIX),
        token,
    })
}

/// A new token for the same user, keeping the test prefix of the old one.
pub(crate) fn refreshed(token: &str) -> String {
    let suffix: [u8; 8] = rand::random();
    format!("{}{REFRESHED_MARK}{}", root(token), hex::encode(suffix))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instagram::INSTAGRAM;

    #[test]
    fn refreshed_tokens_keep_the_user_and_the_prefix() {
        let a = account_for_token(&INSTAGRAM, "noscope-a");
        let refreshed = refreshed("noscope-a");
        assert!(refreshed.starts_with(NOSCOPE_PREFIX));
        assert_eq!(account_for_token(&INSTAGRAM, &refreshed), a);
        assert_eq!(
            account_for_token(&INSTAGRAM, &super::refreshed(&refreshed)),
            a
        );
        assert_ne!(account_for_token(&INSTAGRAM, "b"), a);
        assert_eq!(a.id.len(), 17);
    }
}
