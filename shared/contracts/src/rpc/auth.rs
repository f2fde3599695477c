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
    /// The caller's IP address as the gateway's edge decided it, for per-IP throttling. Set by
    /// the gateway only (it overwrites whatever a client sent); absent on internal calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
    /// The tenant to act in, for a user who belongs to several. Without it the login lands in
    /// the tenant the user owns, otherwise the one joined first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<TenantId>,
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
    /// The session: the id of the refresh-token family the token was issued in. Absent only
    /// on tokens issued before sessions existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

pub const TOKEN_ISSUER: &str = "herald-auth";
pub const TOKEN_AUDIENCE: &str = "herald";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

rpc!(
    /// Exchange a refresh token for new tokens; the refresh token is rotated on every use.
    Refresh, "auth", "refresh", false, RefreshRequest, TokenResponse
);

/// Ends one session. The gateway fills `session_id` from the caller's verified token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogoutRequest {
    pub session_id: uuid::Uuid,
}

/// An empty answer: the operation took effect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Done {}

/// An empty request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

rpc!(
    /// End the caller's session: its refresh tokens and every access token carrying its sid.
    Logout, "auth", "logout", true, LogoutRequest, Done
);
rpc!(
    /// End every session of the caller, in every tenant.
    LogoutAll, "auth", "logout-all", true, NoParams, Done
);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    pub new_password: String,
}

rpc!(
    /// Change the caller's password: every session ends, and the answer is a new session.
    ChangePassword, "auth", "password", true, ChangePasswordRequest, TokenResponse
);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoveMemberRequest {
    pub user_id: UserId,
}

rpc!(
    /// Remove a member from the caller's tenant and end their sessions there.
    RemoveMember, "auth", "members.remove", true, RemoveMemberRequest, Done
);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Member {
    pub user_id: UserId,
    pub email: String,
    pub role: super::Role,
    pub joined_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberList {
    pub members: Vec<Member>,
}

rpc!(
    /// The members of the caller's tenant and their roles.
    ListMembers, "auth", "members.list", true, NoParams, MemberList
);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateKeysResponse {
    /// The key every auth replica signs with from now on.
    pub kid: String,
    /// Keys still published for verification (the new one included).
    pub published: Vec<String>,
}

rpc!(
    /// Operator action (no identity): create a new signing key and make every auth replica
    /// sign with it; older keys stay verifiable until their tokens have expired.
    RotateKeys, "auth", "keys.rotate", false, NoParams, RotateKeysResponse
);

/// The JetStream KV bucket of revocations that every gateway watches. Keys are
/// `sid.<session>`, `user.<user>` and `member.<tenant>.<user>` (see the functions below);
/// each value is a JSON `Revocation`.
pub const REVOCATIONS_BUCKET: &str = "auth-revocations";

/// How long a revocation must stay in force: longer than an access token lives (15 min)
/// plus the gateways' clock leeway. The bucket's `max_age`; gateways forget entries older.
pub const REVOCATION_RETENTION_SECS: u64 = 20 * 60;

/// A revocation as stored in the revocations bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Revocation {
    /// For a session: when it ended. For a user or membership: tokens issued (`iat`) before
    /// this second are refused.
    pub revoked_at: chrono::DateTime<chrono::Utc>,
}

/// Every access token of the session (`sid`) is refused.
pub fn session_revocation_key(session: &uuid::Uuid) -> String {
    format!("sid.{}", session.simple())
}

/// Every access token of the user issued before `revoked_at` is refused (log out everywhere,
/// password change).
pub fn user_revocation_key(user: &UserId) -> String {
    format!("user.{}", user.as_uuid().simple())
}

/// Every access token of the user for this tenant issued before `revoked_at` is refused
/// (removal from the tenant).
pub fn membership_revocation_key(tenant: &TenantId, user: &UserId) -> String {
    format!(
        "member.{}.{}",
        tenant.as_uuid().simple(),
        user.as_uuid().simple()
    )
}
