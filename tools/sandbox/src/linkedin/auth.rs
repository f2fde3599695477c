//! Bearer tokens. Any non-empty token is a valid member token and always maps to the same
//! member; the prefixes `expired-`, `noscope-` and `readonly-` take away what their names say
//! (see the module docs).

use actix_web::HttpRequest;
use actix_web::http::header::AUTHORIZATION;
use sha2::{Digest, Sha256};

use super::error::ApiError;

const SUB_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Member {
    /// The OpenID subject: the id in `urn:li:person:<sub>`.
    pub(crate) sub: String,
    pub(crate) given_name: String,
    pub(crate) family_name: String,
    /// `r_member_social` / `r_organization_social`: may list posts and read statistics.
    pub(crate) can_read: bool,
    /// `w_member_social` / `w_organization_social`: may create posts.
    pub(crate) can_write: bool,
}

impl Member {
    pub(crate) fn urn(&self) -> String {
        format!("urn:li:person:{}", self.sub)
    }

    pub(crate) fn name(&self) -> String {
        format!("{} {}", self.given_name, self.family_name)
    }
}

pub(crate) fn member_for_token(token: &str) -> Member {
    let digest = Sha256::digest(token.as_bytes());
    // Ten characters of a URL-safe alphabet, like LinkedIn's opaque member ids.
    let sub: String = digest[..10]
        .iter()
        .map(|b| char::from(SUB_ALPHABET[usize::from(b % 64)]))
        .collect();
    let hex = hex::encode(&digest[10..13]);
    Member {
        sub,
        given_name: "Sandbox".to_owned(),
        family_name: format!("Member {hex}"),
        can_read: !token.starts_with("noscope-"),
        can_write: !token.starts_with("readonly-"),
    }
}

/// The caller's member, or LinkedIn's 401 for a missing, unusable or expired token.
pub(crate) fn required(req: &HttpRequest) -> Result<Member, ApiError> {
    let Some(header) = req.headers().get(AUTHORIZATION) else {
        return Err(ApiError::MissingToken);
    };
    let value = header.to_str().map_err(|_| ApiError::InvalidToken)?;
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::InvalidToken);
    }
    if token.is_empty() {
        return Err(ApiError::MissingToken);
    }
    if token.starts_with("expired-") {
        return Err(ApiError::ExpiredToken);
    }
    Ok(member_for_token(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_always_maps_to_the_same_member() {
        let a = member_for_token("token-a");
        assert_eq!(a, member_for_token("token-a"));
        assert_ne!(a.sub, member_for_token("token-b").sub);
        assert_eq!(a.sub.len(), 10);
        assert!(a.can_read && a.can_write);
        assert!(!member_for_token("noscope-a").can_read);
        assert!(!member_for_token("readonly-a").can_write);
    }
}
