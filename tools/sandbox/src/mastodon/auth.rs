//! Bearer tokens. Any non-empty token is valid (the sandbox has no OAuth flow) and always
//! maps to the same account, so a token in a test fixture is a stable identity.

use actix_web::HttpRequest;
use actix_web::http::header::AUTHORIZATION;
use sha2::{Digest, Sha256};

use super::error::ApiError;
use super::store::Account;

pub(crate) fn account_for_token(token: &str) -> Account {
    let digest = Sha256::digest(token.as_bytes());
    let first: [u8; 8] = digest[..8].try_into().unwrap_or_default();
    // 63 bits, so clients that keep ids in signed 64-bit columns can hold them.
    let id = u64::from_be_bytes(first) >> 1;
    let hex = hex::encode(digest);
    Account {
        id,
        username: format!("user_{}", &hex[..8]),
    }
}

/// The caller's account; `None` without an `Authorization` header. A header that carries no
/// usable bearer token is refused, as Doorkeeper refuses it.
pub(crate) fn optional(req: &HttpRequest) -> Result<Option<Account>, ApiError> {
    let Some(header) = req.headers().get(AUTHORIZATION) else {
        return Ok(None);
    };
    let value = header.to_str().map_err(|_| ApiError::InvalidToken)?;
    let (scheme, token) = value.split_once(' ').ok_or(ApiError::InvalidToken)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(ApiError::InvalidToken);
    }
    Ok(Some(account_for_token(token)))
}

pub(crate) fn required(req: &HttpRequest) -> Result<Account, ApiError> {
    optional(req)?.ok_or(ApiError::InvalidToken)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_token_always_maps_to_the_same_account() {
        let a = account_for_token("token-a");
        assert_eq!(a, account_for_token("token-a"));
        assert_ne!(a.id, account_for_token("token-b").id);
        assert!(a.username.starts_with("user_") && a.username.len() == 13);
        assert!(i64::try_from(a.id).is_ok());
    }
}
