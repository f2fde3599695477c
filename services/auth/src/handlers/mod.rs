//! One module per request; `Auth` is what every handler shares.

pub mod api_keys;
pub mod audit;
pub mod email;
pub mod exports;
pub mod invitations;
pub mod login;
pub mod logout;
pub mod members;
pub mod password;
pub mod password_reset;
pub mod refresh;
pub mod register;
pub mod roles;

use crate::passwords::Passwords;
use crate::revocations::Revocations;
use crate::tokens::TokenIssuer;
use herald_contracts::rpc::{ErrorCode, RpcError};
use herald_kit::db::Db;
use herald_kit::outbox::OutboxWaker;
use std::fmt::Display;
use std::sync::Arc;

#[derive(Clone)]
pub struct Auth {
    pub db: Db,
    pub outbox: OutboxWaker,
    pub passwords: Arc<Passwords>,
    pub tokens: Arc<TokenIssuer>,
    /// The `auth-revocations` bucket every gateway watches.
    pub revocations: Arc<Revocations>,
    /// The `auth-api-keys` bucket of active API keys every gateway watches.
    pub api_keys: Arc<crate::api_keys::ApiKeyBucket>,
    /// Login throttling and lockout (`HERALD_AUTH_LOGIN_*`).
    pub login: crate::throttle::login::LoginPolicy,
    /// Emailed tokens: links, lifetimes, reset throttling (`HERALD_AUTH_*`).
    pub identity: crate::identity::IdentityPolicy,
}

/// An internal failure: the kit logs `context: cause` once and the caller sees only
/// "internal error". Causes here are database and library errors, which carry no secrets.
fn internal(context: &str, cause: impl Display) -> RpcError {
    RpcError::new(ErrorCode::Internal, format!("{context}: {cause}"))
}

/// No connection in time: the client may retry.
fn unavailable(cause: impl Display) -> RpcError {
    tracing::warn!(error = %cause, "database unavailable");
    RpcError::unavailable()
}
