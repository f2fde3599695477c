//! Access tokens (EdDSA JWTs, 15 minutes) and refresh tokens (opaque, 30 days, stored hashed).

use crate::keys::ActiveKey;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use herald_contracts::rpc::Role;
use herald_contracts::rpc::auth::{AccessClaims, TOKEN_AUDIENCE, TOKEN_ISSUER};
use herald_contracts::{TenantId, UserId};
use jsonwebtoken::{Algorithm, Header};
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};
use std::fmt;

pub const ACCESS_TOKEN_TTL_SECS: u64 = 15 * 60;
pub const REFRESH_TOKEN_TTL: chrono::TimeDelta = chrono::TimeDelta::days(30);
pub const TOKEN_TYPE: &str = "Bearer";

/// Signs access tokens with the active key; the header's `kid` names it in `auth-keys`.
#[derive(Debug)]
pub struct TokenIssuer {
    key: ActiveKey,
}

impl TokenIssuer {
    pub fn new(key: ActiveKey) -> Self {
        Self { key }
    }

    pub fn kid(&self) -> &str {
        &self.key.kid
    }

    pub fn claims(user: UserId, tenant: TenantId, role: Role, now: DateTime<Utc>) -> AccessClaims {
        let iat = now.timestamp();
        AccessClaims {
            sub: user.to_string(),
            tid: tenant.to_string(),
            role: role.as_str().to_owned(),
            iss: TOKEN_ISSUER.to_owned(),
            aud: TOKEN_AUDIENCE.to_owned(),
            iat,
            nbf: iat,
            exp: iat + ACCESS_TOKEN_TTL_SECS as i64,
            jti: uuid::Uuid::new_v4().to_string(),
        }
    }

    pub fn sign(&self, claims: &AccessClaims) -> Result<String, jsonwebtoken::errors::Error> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.key.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.key.encoding_key)
    }
}

/// An opaque refresh token (32 random bytes, base64url) and the hash that is stored.
pub struct RefreshToken {
    pub token: String,
    pub hash: [u8; 32],
}

impl RefreshToken {
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        let token = URL_SAFE_NO_PAD.encode(bytes);
        let hash = refresh_token_hash(&token);
        Self { token, hash }
    }
}

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshToken(***)")
    }
}

/// What the database holds for a refresh token: sha256 of the token's text.
pub fn refresh_token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_tokens_are_random_and_hashed() {
        let a = RefreshToken::generate();
        let b = RefreshToken::generate();
        assert_ne!(a.token, b.token);
        assert_eq!(URL_SAFE_NO_PAD.decode(&a.token).unwrap().len(), 32);
        assert_eq!(a.hash, refresh_token_hash(&a.token));
        assert_eq!(format!("{a:?}"), "RefreshToken(***)");
    }

    #[test]
    fn claims_last_fifteen_minutes() {
        let now = Utc::now();
        let claims = TokenIssuer::claims(UserId::new(), TenantId::new(), Role::Owner, now);
        assert_eq!(claims.exp - claims.iat, 900);
        assert_eq!(claims.nbf, claims.iat);
        assert_eq!(claims.role, "owner");
        assert_eq!(claims.iss, TOKEN_ISSUER);
        assert_eq!(claims.aud, TOKEN_AUDIENCE);
    }
}
