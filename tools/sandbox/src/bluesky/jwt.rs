//! Session tokens shaped like the PDS's: `header.payload.signature`, base64url without
//! padding; the access token is typed `at+jwt` with an app-password scope and lives 2 hours,
//! the refresh token is typed `refresh+jwt`, carries a `jti` and lives 90 days. Claims are
//! those of the reference PDS (`scope`, `sub` = the DID, `aud`, `iat`, `exp`, `jti`).
//!
//! The signature is a keyed SHA-256 of the signing input under a fixed sandbox key, not
//! ES256K: clients never verify it (only the PDS does), and a fixed key lets tests mint tokens
//! (see [`access_jwt`]) that any sandbox accepts, e.g. already-expired ones.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::XrpcError;

const SIGNING_KEY: &[u8] = b"herald-sandbox/bluesky/session-key";
pub(crate) const ACCESS_TTL: Duration = Duration::hours(2);
pub(crate) const REFRESH_TTL: Duration = Duration::days(90);
/// The scope of an access token made from an app password.
pub(crate) const APP_PASS_SCOPE: &str = "com.atproto.appPass";
const ACCESS_SCOPES: [&str; 3] = [
    "com.atproto.access",
    APP_PASS_SCOPE,
    "com.atproto.appPassPrivileged",
];
pub(crate) const REFRESH_SCOPE: &str = "com.atproto.refresh";
/// The `aud` the sandbox PDS puts in its tokens.
const AUDIENCE: &str = "did:web:sandbox.bsky.invalid";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Access,
    Refresh,
}

impl Kind {
    fn typ(self) -> &'static str {
        match self {
            Kind::Access => "at+jwt",
            Kind::Refresh => "refresh+jwt",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Claims {
    pub(crate) scope: String,
    pub(crate) sub: String,
    pub(crate) aud: String,
    pub(crate) iat: i64,
    pub(crate) exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) jti: Option<String>,
    /// Sandbox only: `refreshSession` answers without a new `refreshJwt` and leaves this one
    /// valid (set by a `norotate-` app password), so adapters can test "keep the stored one".
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) sandbox_no_rotation: bool,
}

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    typ: String,
    alg: String,
}

impl Claims {
    pub(crate) fn access(did: &str, now: DateTime<Utc>, exp: DateTime<Utc>) -> Claims {
        Claims {
            scope: APP_PASS_SCOPE.to_owned(),
            sub: did.to_owned(),
            aud: AUDIENCE.to_owned(),
            iat: now.timestamp(),
            exp: exp.timestamp(),
            jti: None,
            sandbox_no_rotation: false,
        }
    }

    pub(crate) fn refresh(did: &str, now: DateTime<Utc>, exp: DateTime<Utc>, jti: String) -> Self {
        Claims {
            scope: REFRESH_SCOPE.to_owned(),
            sub: did.to_owned(),
            aud: AUDIENCE.to_owned(),
            iat: now.timestamp(),
            exp: exp.timestamp(),
            jti: Some(jti),
            sandbox_no_rotation: false,
        }
    }
}

fn sign(signing_input: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(SIGNING_KEY);
    hasher.update(b".");
    hasher.update(signing_input.as_bytes());
    URL_SAFE_NO_PAD.encode(hasher.finalize())
}

pub(crate) fn mint(kind: Kind, claims: &Claims) -> String {
    let header = Header {
        typ: kind.typ().to_owned(),
        alg: "ES256K".to_owned(),
    };
    // Serializing these plain structs cannot fail; an empty segment would only fail to verify.
    let header = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap_or_default());
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
    let signing_input = format!("{header}.{payload}");
    let signature = sign(&signing_input);
    format!("{signing_input}.{signature}")
}

/// Checks a bearer token the way the PDS's auth verifier does: signature, then expiry, then
/// token type, then scope.
pub(crate) fn verify(token: &str, kind: Kind, now: DateTime<Utc>) -> Result<Claims, XrpcError> {
    let unverifiable = || XrpcError::invalid_token("Token could not be verified");
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(unverifiable());
    };
    if sign(&format!("{header}.{payload}")) != signature {
        return Err(unverifiable());
    }
    let header: Header = URL_SAFE_NO_PAD
        .decode(header)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(unverifiable)?;
    let claims: Claims = URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(unverifiable)?;
    if claims.exp <= now.timestamp() {
        return Err(XrpcError::expired_token());
    }
    if header.typ != kind.typ() {
        return Err(XrpcError::invalid_token("Invalid token type"));
    }
    let scope_ok = match kind {
        Kind::Access => ACCESS_SCOPES.contains(&claims.scope.as_str()),
        Kind::Refresh => claims.scope == REFRESH_SCOPE,
    };
    if !scope_ok {
        return Err(XrpcError::invalid_token("Bad token scope"));
    }
    if !claims.sub.starts_with("did:") {
        return Err(XrpcError::invalid_token("Malformed token"));
    }
    Ok(claims)
}

/// An access token for `did` that this sandbox accepts until `expires_at` (which may be in the
/// past, for tests of expired sessions).
pub fn access_jwt(did: &str, expires_at: DateTime<Utc>) -> String {
    mint(Kind::Access, &Claims::access(did, Utc::now(), expires_at))
}

/// A refresh token for `did` that this sandbox accepts until `expires_at`.
pub fn refresh_jwt(did: &str, expires_at: DateTime<Utc>) -> String {
    let jti = hex::encode(rand::random::<[u8; 16]>());
    mint(
        Kind::Refresh,
        &Claims::refresh(did, Utc::now(), expires_at, jti),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_minted_token_verifies_and_carries_its_claims() {
        let now = Utc::now();
        let token = access_jwt("did:plc:abc", now + ACCESS_TTL);
        let claims = verify(&token, Kind::Access, now).unwrap();
        assert_eq!(claims.sub, "did:plc:abc");
        assert_eq!(claims.scope, APP_PASS_SCOPE);
    }

    #[test]
    fn expired_wrong_type_and_tampered_tokens_are_refused() {
        let now = Utc::now();
        let expired = access_jwt("did:plc:abc", now - Duration::seconds(1));
        let error = verify(&expired, Kind::Access, now).unwrap_err();
        assert!(error.to_string().starts_with("ExpiredToken"), "{error}");

        let refresh = refresh_jwt("did:plc:abc", now + REFRESH_TTL);
        let error = verify(&refresh, Kind::Access, now).unwrap_err();
        assert!(error.to_string().contains("Invalid token type"), "{error}");

        let token = access_jwt("did:plc:abc", now + ACCESS_TTL);
        let tampered = format!("{}x", token);
        let error = verify(&tampered, Kind::Access, now).unwrap_err();
        assert!(error.to_string().starts_with("InvalidToken"), "{error}");
        assert!(verify("not-a-jwt", Kind::Access, now).is_err());
    }
}
