//! Request/reply contracts: what the gateway asks services over NATS (service API, queue
//! groups). Subjects start with `rpc.` so they never overlap a stream's subjects.

pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod billing;
pub mod erasure;
pub mod identity;
pub mod insights;
pub mod notifier;
pub mod privacy;
pub mod publisher;
pub mod renderer;

use crate::ids::{TenantId, UserId};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

/// One request/reply operation.
pub trait Rpc: Send + Sync + 'static {
    /// The owning service's name, e.g. `auth`.
    const SERVICE: &'static str;
    /// The endpoint's name within the service, e.g. `register`.
    const NAME: &'static str;
    /// Whether the caller must carry a verified identity.
    const REQUIRES_IDENTITY: bool;
    type Request: Serialize + DeserializeOwned + JsonSchema + Send + Sync + 'static;
    type Response: Serialize + DeserializeOwned + JsonSchema + Send + Sync + 'static;

    fn subject() -> String {
        format!("rpc.{}.{}", Self::SERVICE, Self::NAME)
    }
}

/// A role a user holds in a tenant, strongest first.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Admin,
    Editor,
    Viewer,
}

impl Role {
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Editor => "editor",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "owner" => Some(Role::Owner),
            "admin" => Some(Role::Admin),
            "editor" => Some(Role::Editor),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }

    /// Whether this role carries at least the rights of `required`.
    pub fn at_least(&self, required: Role) -> bool {
        *self <= required
    }
}

/// The verified caller, set by the gateway from a verified token. Services take the tenant
/// from here and nowhere else.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub role: Role,
    /// Set when the caller is an API key (the user is then the key's creator): for
    /// attribution in audit events and logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_id: Option<uuid::Uuid>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RpcRequest<T> {
    pub request_id: String,
    pub identity: Option<Identity>,
    pub data: T,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidInput,
    Unauthenticated,
    Forbidden,
    NotFound,
    Conflict,
    RateLimited,
    Unavailable,
    Internal,
}

impl ErrorCode {
    pub fn as_str(&self) -> &'static str {
        match self {
            ErrorCode::InvalidInput => "invalid_input",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
        }
    }
}

/// An error a service returns to its caller; `message` is safe to show to a client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, thiserror::Error)]
#[error("{code:?}: {message}")]
#[serde(deny_unknown_fields)]
pub struct RpcError {
    pub code: ErrorCode,
    pub message: String,
    /// With `rate_limited`: seconds until a retry can succeed (the gateway's `Retry-After`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_secs: Option<u64>,
}

impl RpcError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retry_after_secs: None,
        }
    }
    /// `rate_limited`, retry after `retry_after_secs` seconds (at least 1).
    pub fn rate_limited(message: impl Into<String>, retry_after_secs: u64) -> Self {
        Self {
            retry_after_secs: Some(retry_after_secs.max(1)),
            ..Self::new(ErrorCode::RateLimited, message)
        }
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidInput, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }
    pub fn internal() -> Self {
        Self::new(ErrorCode::Internal, "internal error")
    }
    pub fn unavailable() -> Self {
        Self::new(ErrorCode::Unavailable, "service unavailable")
    }
}

/// `{"ok": ...}` or `{"error": {"code", "message"}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RpcReply<T> {
    Ok(T),
    Error(RpcError),
}

impl<T> From<Result<T, RpcError>> for RpcReply<T> {
    fn from(result: Result<T, RpcError>) -> Self {
        match result {
            Ok(value) => RpcReply::Ok(value),
            Err(error) => RpcReply::Error(error),
        }
    }
}

impl<T> From<RpcReply<T>> for Result<T, RpcError> {
    fn from(reply: RpcReply<T>) -> Self {
        match reply {
            RpcReply::Ok(value) => Ok(value),
            RpcReply::Error(error) => Err(error),
        }
    }
}

/// Declares an operation: `rpc!(Name, "service", "endpoint", identity?, Request, Response)`.
macro_rules! rpc {
    ($(#[$doc:meta])* $name:ident, $service:literal, $endpoint:literal, $identity:literal, $req:ty, $res:ty) => {
        $(#[$doc])*
        pub struct $name;
        impl $crate::rpc::Rpc for $name {
            const SERVICE: &'static str = $service;
            const NAME: &'static str = $endpoint;
            const REQUIRES_IDENTITY: bool = $identity;
            type Request = $req;
            type Response = $res;
        }
    };
}
pub(crate) use rpc;
