//! auth: tenants, users and memberships; registration and login; the Ed25519 signing keys
//! whose public halves every gateway reads from the `auth-keys` KV bucket.
//!
//! Start-up order: auth's settings are checked first (a missing `HERALD_AUTH_MASTER_KEY`
//! exits 2 before anything connects), then the kit connects and migrates, then the fleet's
//! signing key is loaded (or created once, under an advisory lock), the public keys are
//! published, and the endpoints are served.

pub mod config;
pub mod domain;
pub mod handlers;
pub mod keys;
pub mod passwords;
pub mod repo;
pub mod tokens;

use config::AuthConfig;
use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use handlers::Auth;
use herald_contracts::rpc::auth::{Login, Register};
use herald_contracts::streams::IDENTITY;
use herald_kit::{App, Env, KitError, ServiceInfo};
use passwords::Passwords;
use std::sync::Arc;
use tokens::TokenIssuer;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");
pub const SCHEMA: &str = "auth";
pub const SERVICE: &str = "auth";

pub fn info() -> ServiceInfo {
    ServiceInfo {
        name: SERVICE,
        version: env!("CARGO_PKG_VERSION"),
        streams: &[IDENTITY],
        storage: Some((SCHEMA, || MIGRATIONS)),
    }
}

/// Builds the service: signing key ready, public keys published, endpoints served.
pub async fn start(env: Env) -> Result<App, KitError> {
    let config = AuthConfig::from_env(&env.scoped(SERVICE))?;
    let mut app = App::start(info(), &env).await?;
    let db = app.db()?;
    let key = keys::ensure_signing_key(&db, &config.master_key).await?;
    keys::publish_public_keys(&app.js, &db, app.config.stream_replicas).await?;
    let passwords = Passwords::new(config.argon2, config.hash_concurrency)
        .await
        .map_err(|error| KitError::Other(error.to_string()))?;
    let auth = Auth {
        db,
        outbox: app.outbox.clone(),
        passwords: Arc::new(passwords),
        tokens: Arc::new(TokenIssuer::new(key)),
    };
    let state = auth.clone();
    app.serve::<Register>(move |ctx, request| {
        handlers::register::handle(state.clone(), ctx, request)
    })
    .await?;
    let state = auth;
    app.serve::<Login>(move |ctx, request| handlers::login::handle(state.clone(), ctx, request))
        .await?;
    Ok(app)
}
