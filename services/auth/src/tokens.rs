//! Access tokens (EdDSA JWTs, 15 minutes) and refresh tokens (opaque, 30 days, stored hashed).
//! The signing key can be swapped while the service runs (key rotation).

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
use std::sync::{Arc, PoisonError, RwLock};

pub const ACCESS_TOKEN_TTL_SECS: u64 = 15 * 60;
pub const REFRESH_TOKEN_TTL: chrono::TimeDelta = chrono::TimeDelta::days(30);
pub const TOKEN_TYPE: &str = "Bearer";

/// Signs access tokens with the active key; the header's `kid` names it in `auth-keys`.
#[derive(Debug)]
pub struct TokenIssuer {
    key: RwLock<Arc<ActiveKey>>,
}

impl TokenIssuer {
    pub fn new(key: ActiveKey) -> Self {
        Self {
            key: RwLock::new(Arc::new(key)),
        }
    }

    fn active(&self) -> Arc<ActiveKey> {
        self.key
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn kid(&self) -> String {
        self.active().kid.clone()
    }

    /// Signs with `key` from now on; false if it was already the active key.
    pub fn replace(&self, key: ActiveKey) -> bool {
        let mut active = self.key.write().unwrap_or_else(PoisonError::into_inner);
        if active.kid == key.kid {
            return false;
        }
        *active = Arc::new(key);
        true
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
            sid: None,
        }
    }

    /// Claims of a token in session `session` (the refresh family it was issued in).
    pub fn session_claims(
        user: UserId,
        tenant: TenantId,
        role: Role,
        session: uuid::Uuid,
        now: DateTime<Utc>,
    ) -> AccessClaims {
        AccessClaims {
            sid: Some(session.to_string()),
            ..Self::claims(user, tenant, role, now)
        }
    }

    pub fn sign(&self, claims: &AccessClaims) -> Result<String, jsonwebtoken::errors::Error> {
        let key = self.active();
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(key.kid.clone());
        jsonwebtoken::encode(&header, claims, &key.encoding_key)
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
