//! Access-token verification: EdDSA JWTs signed by auth, checked locally against the cached
//! public keys. Only `EdDSA` is accepted (never `none` or an HMAC algorithm, so a public key can
//! not be replayed as an HMAC secret); issuer, audience, expiry and not-before are enforced,
//! and a token whose session, user or membership auth revoked is refused (`revocations`).

use crate::keys::KeyCache;
use crate::revocations::{RevocationCache, TokenFacts};
use herald_contracts::rpc::auth::{AccessClaims, TOKEN_AUDIENCE, TOKEN_ISSUER};
use herald_contracts::rpc::{Identity, Role};
use herald_contracts::{TenantId, UserId};
use jsonwebtoken::{Algorithm, Validation, decode, decode_header};
use std::sync::Arc;
use std::time::Duration;

/// Clock skew tolerated on `exp` and `nbf`, in seconds.
const LEEWAY_SECS: u64 = 30;
/// Longer than any token auth issues; refused before parsing.
const MAX_TOKEN_LEN: usize = 8 * 1024;
/// How long a request waits for the revocations to be loaded (only just after start).
const REVOCATIONS_WAIT: Duration = Duration::from_secs(2);

/// Why a token was refused; logged at debug level, never shown beyond "invalid token".
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("token too long")]
    TooLong,
    #[error("malformed token header: {0}")]
    Header(jsonwebtoken::errors::Error),
    #[error("algorithm {0:?} not accepted")]
    Algorithm(Algorithm),
    #[error("token has no kid")]
    NoKid,
    #[error("unknown kid")]
    UnknownKid,
    #[error("token rejected: {0}")]
    Invalid(jsonwebtoken::errors::Error),
    #[error("claims do not name a tenant, user and role")]
    Claims,
    #[error("revoked: {0}")]
    Revoked(&'static str),
    #[error("revocations not loaded yet")]
    RevocationsNotLoaded,
}

/// A verified, unrevoked token: the caller and their session (absent on tokens from before
/// sessions existed).
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    pub identity: Identity,
    pub session: Option<uuid::Uuid>,
}

pub struct Verifier {
    keys: Arc<KeyCache>,
    revocations: Arc<RevocationCache>,
    validation: Validation,
}

impl Verifier {
    pub fn new(keys: Arc<KeyCache>, revocations: Arc<RevocationCache>) -> Self {
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.algorithms = vec![Algorithm::EdDSA];
        validation.set_issuer(&[TOKEN_ISSUER]);
        validation.set_audience(&[TOKEN_AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECS;
        Self {
            keys,
            revocations,
            validation,
        }
    }

    /// The verified caller named by `token`.
    pub async fn verify(&self, token: &str) -> Result<Identity, TokenError> {
        Ok(self.verify_session(token).await?.identity)
    }

    /// The verified caller named by `token`, and the session it belongs to.
    pub async fn verify_session(&self, token: &str) -> Result<VerifiedToken, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::TooLong);
        }
        let header = decode_header(token).map_err(TokenError::Header)?;
        if header.alg != Algorithm::EdDSA {
            return Err(TokenError::Algorithm(header.alg));
        }
        let kid = header.kid.ok_or(TokenError::NoKid)?;
        let key = self.keys.get(&kid).await.ok_or(TokenError::UnknownKid)?;
        let data =
            decode::<AccessClaims>(token, &key, &self.validation).map_err(TokenError::Invalid)?;
        let claims = data.claims;
        let identity = Identity {
            tenant_id: TenantId::parse(&claims.tid).map_err(|_| TokenError::Claims)?,
            user_id: UserId::parse(&claims.sub).map_err(|_| TokenError::Claims)?,
            role: Role::parse(&claims.role).ok_or(TokenError::Claims)?,
            api_key_id: None,
        };
        let session = claims
            .sid
            .as_deref()
            .map(uuid::Uuid::parse_str)
            .transpose()
            .map_err(|_| TokenError::Claims)?;
        // Fail closed: until the bucket's contents are in, a revoked token could pass.
        if !self.revocations.ready(REVOCATIONS_WAIT).await {
            return Err(TokenError::RevocationsNotLoaded);
        }
        let facts = TokenFacts {
            identity: &identity,
            session,
            issued_at: claims.iat,
        };
        if let Some(reason) = self.revocations.revoked(&facts) {
            return Err(TokenError::Revoked(reason));
        }
        Ok(VerifiedToken { identity, session })
    }
}
