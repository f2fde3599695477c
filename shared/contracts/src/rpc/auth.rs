//! auth: registration and login.

use super::rpc;
use crate::ids::{TenantId, UserId};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    pub tenant_name: String,
    pub email: String,
    pub password: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterResponse {
    pub tenant_id: TenantId,
    pub user_id: UserId,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Access token lifetime in seconds.
    pub expires_in: u64,
    pub refresh_token: String,
}

rpc!(
    /// Create a tenant and its owner.
    Register, "auth", "register", false, RegisterRequest, RegisterResponse
);
rpc!(
    /// Exchange credentials for tokens.
    Login, "auth", "login", false, LoginRequest, TokenResponse
);

/// The JetStream KV bucket holding the public signing keys (JWKS), keyed by `kid`.
pub const KEYS_BUCKET: &str = "auth-keys";

/// A public verification key as stored in the keys bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PublicKey {
    pub kid: String,
    /// Always `EdDSA`.
    pub alg: String,
    /// Base64url (no padding) of the raw 32-byte Ed25519 public key (the JWK `x`).
    pub x: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// The access token's claims.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AccessClaims {
    /// The user id.
    pub sub: String,
    /// The tenant the token is for.
    pub tid: String,
    /// The user's role in that tenant.
    pub role: String,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
}

pub const TOKEN_ISSUER: &str = "herald-auth";
pub const TOKEN_AUDIENCE: &str = "herald";
