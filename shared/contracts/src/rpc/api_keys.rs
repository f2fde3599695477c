//! auth: scoped API keys for integrations. A key is `hk_<key id>_<secret>`: the id (public,
//! also the list's `prefix`) finds the record, the secret (256 random bits, base64url) is shown
//! once at creation and stored only as its SHA-256. Each key carries scopes (what it may call,
//! matched against the gateway's route table) and a role (the least role its scopes need; never
//! above its creator's). Auth publishes every active key to the `auth-api-keys` KV bucket the
//! gateways watch, so a request with a key needs no database call and a revocation reaches
//! every gateway within a second.

use super::auth::{Done, NoParams};
use super::{Role, rpc};
use crate::ids::{TenantId, UserId};
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What an API key may do: each gateway route names the one scope a key needs to call it (or
/// that keys may not call it at all).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub enum Scope {
    #[serde(rename = "posts:read")]
    PostsRead,
    #[serde(rename = "posts:write")]
    PostsWrite,
    #[serde(rename = "accounts:read")]
    AccountsRead,
    #[serde(rename = "accounts:write")]
    AccountsWrite,
    #[serde(rename = "renders:read")]
    RendersRead,
    #[serde(rename = "renders:write")]
    RendersWrite,
    #[serde(rename = "metrics:read")]
    MetricsRead,
    #[serde(rename = "usage:read")]
    UsageRead,
    #[serde(rename = "notifications:read")]
    NotificationsRead,
    #[serde(rename = "events:read")]
    EventsRead,
    #[serde(rename = "audit:read")]
    AuditRead,
}

impl Scope {
    pub const ALL: [Scope; 11] = [
        Scope::PostsRead,
        Scope::PostsWrite,
        Scope::AccountsRead,
        Scope::AccountsWrite,
        Scope::RendersRead,
        Scope::RendersWrite,
        Scope::MetricsRead,
        Scope::UsageRead,
        Scope::NotificationsRead,
        Scope::EventsRead,
        Scope::AuditRead,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Scope::PostsRead => "posts:read",
            Scope::PostsWrite => "posts:write",
            Scope::AccountsRead => "accounts:read",
            Scope::AccountsWrite => "accounts:write",
            Scope::RendersRead => "renders:read",
            Scope::RendersWrite => "renders:write",
            Scope::MetricsRead => "metrics:read",
            Scope::UsageRead => "usage:read",
            Scope::NotificationsRead => "notifications:read",
            Scope::EventsRead => "events:read",
            Scope::AuditRead => "audit:read",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Scope::ALL.into_iter().find(|scope| scope.as_str() == value)
    }

    /// The least role that may hold this scope (what a session needs for the same routes): a
    /// key's creator must have it, and a key's role is the strongest of its scopes'.
    pub const fn min_role(&self) -> Role {
        match self {
            Scope::PostsWrite | Scope::RendersWrite => Role::Editor,
            Scope::AccountsWrite | Scope::UsageRead | Scope::AuditRead => Role::Admin,
            Scope::PostsRead
            | Scope::AccountsRead
            | Scope::RendersRead
            | Scope::MetricsRead
            | Scope::NotificationsRead
            | Scope::EventsRead => Role::Viewer,
        }
    }

    /// The role a key with `scopes` acts with: the strongest any of them needs (viewer if none).
    pub fn role_of(scopes: &[Scope]) -> Role {
        scopes
            .iter()
            .map(Scope::min_role)
            .min()
            .unwrap_or(Role::Viewer)
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The prefix of every API key string.
pub const KEY_PREFIX: &str = "hk_";

/// Splits `hk_<id>_<secret>` into the key id (32 lowercase hex digits) and the secret; `None`
/// for anything else (so a JWT is never mistaken for a key).
pub fn parse_key(value: &str) -> Option<(uuid::Uuid, &str)> {
    let rest = value.strip_prefix(KEY_PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) || secret.is_empty() {
        return None;
    }
    let id = uuid::Uuid::parse_str(id).ok()?;
    Some((id, secret))
}

/// `hk_<id>_<secret>`.
pub fn format_key(id: &uuid::Uuid, secret: &str) -> String {
    format!("{KEY_PREFIX}{}_{secret}", id.simple())
}

/// The public prefix of a key (`hk_<id>`), shown in lists so a user can tell keys apart.
pub fn key_prefix(id: &uuid::Uuid) -> String {
    format!("{KEY_PREFIX}{}", id.simple())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKeyRequest {
    /// A label for people (1-100 characters).
    pub name: String,
    /// At least one; none beyond the creator's role.
    pub scopes: Vec<Scope>,
    /// When the key stops working; never if absent. Must be in the future.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
}

/// A key as listed: never its secret nor the secret's hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKey {
    pub id: uuid::Uuid,
    pub name: String,
    /// `hk_<id>`: the start of the key string.
    pub prefix: String,
    pub scopes: Vec<Scope>,
    /// The role requests with this key act with.
    pub role: Role,
    pub created_by: UserId,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// Within about a minute (gateways report use at most once a minute per key).
    pub last_used_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatedApiKey {
    pub key: ApiKey,
    /// The whole key string, `hk_<id>_<secret>`. Shown this once; never again.
    pub secret: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyList {
    pub keys: Vec<ApiKey>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeApiKeyRequest {
    pub id: uuid::Uuid,
}

rpc!(
    /// Create an API key for the caller's tenant (admins and owners); the secret is in this
    /// reply only.
    CreateApiKey, "auth", "api-keys.create", true, CreateApiKeyRequest, CreatedApiKey
);
rpc!(
    /// The tenant's API keys, revoked ones included, newest first; no secrets.
    ListApiKeys, "auth", "api-keys.list", true, NoParams, ApiKeyList
);
rpc!(
    /// Revoke a key of the caller's tenant: refused by every gateway within a second.
    RevokeApiKey, "auth", "api-keys.revoke", true, RevokeApiKeyRequest, Done
);

/// The JetStream KV bucket of active keys that every gateway watches: key `key.<id simple>`,
/// value a JSON [`ActiveApiKey`]. A revoked key's entry is deleted.
pub const API_KEYS_BUCKET: &str = "auth-api-keys";

/// The bucket key of API key `id`.
pub fn api_key_bucket_key(id: &uuid::Uuid) -> String {
    format!("key.{}", id.simple())
}

/// What a gateway needs to verify a key and build the caller's identity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActiveApiKey {
    pub tenant_id: TenantId,
    pub created_by: UserId,
    /// Lowercase hex SHA-256 of the secret (the part after `hk_<id>_`).
    pub secret_sha256: String,
    pub scopes: Vec<Scope>,
    pub role: Role,
    pub expires_at: Option<DateTime<Utc>>,
}

/// The core NATS subjects (no stream: a lost report only delays `last_used_at`) on which
/// gateways report key use, `apikeys.used.<tenant>`, as an `Envelope<ApiKeyUsed>`; auth
/// subscribes in a queue group.
pub const API_KEY_USED_FILTER: &str = "apikeys.used.*";

/// A gateway saw key `key_id` used (reported at most once a minute per key and replica).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyUsed {
    pub key_id: uuid::Uuid,
    pub used_at: DateTime<Utc>,
}

impl crate::envelope::Message for ApiKeyUsed {
    const TYPE: &'static str = "apikeys.used";
    const VERSION: u32 = 1;
    fn subject(&self, tenant: TenantId) -> String {
        format!("apikeys.used.{tenant}")
    }
    fn message_id(&self) -> String {
        format!("apikeys.used:{}:{}", self.key_id, self.used_at.timestamp())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_round_trip_as_strings() {
        for scope in Scope::ALL {
            let json = serde_json::to_string(&scope).unwrap();
            assert_eq!(json, format!("\"{}\"", scope.as_str()));
            assert_eq!(serde_json::from_str::<Scope>(&json).unwrap(), scope);
            assert_eq!(Scope::parse(scope.as_str()), Some(scope));
        }
        assert!(serde_json::from_str::<Scope>("\"posts:delete\"").is_err());
    }

    #[test]
    fn a_keys_role_is_its_strongest_scopes() {
        assert_eq!(Scope::role_of(&[Scope::PostsRead]), Role::Viewer);
        assert_eq!(
            Scope::role_of(&[Scope::PostsRead, Scope::PostsWrite]),
            Role::Editor
        );
        assert_eq!(Scope::role_of(&Scope::ALL), Role::Admin);
    }

    #[test]
    fn key_strings_parse() {
        let id = uuid::Uuid::new_v4();
        let key = format_key(&id, "c2VjcmV0_-x");
        assert_eq!(parse_key(&key), Some((id, "c2VjcmV0_-x")));
        assert!(key.starts_with(&key_prefix(&id)));
        for bad in [
            "",
            "hk_",
            "hk_abc_def",
            "eyJhbGciOi.x.y",
            &format!("hk_{}_", id.simple()),
        ] {
            assert_eq!(parse_key(bad), None, "{bad}");
        }
    }
}
