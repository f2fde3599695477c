//! auth: tenants, users and memberships; registration and login; the Ed25519 signing keys
//! whose public halves every gateway reads from the `auth-keys` KV bucket.
//!
//! Start-up order: auth's settings are checked first (a missing `HERALD_AUTH_MASTER_KEY`
//! exits 2 before anything connects), then the kit connects and migrates, then the fleet's
//! signing key is loaded (or created once, under an advisory lock), the public keys are
//! published, and the endpoints are served.

pub mod api_keys;
pub mod audit;
pub mod config;
pub mod domain;
pub mod erasure;
pub mod exports;
pub mod handlers;
pub mod identity;
pub mod keys;
pub mod passwords;
pub mod repo;
pub mod revocations;
pub mod throttle;
pub mod tokens;

use config::AuthConfig;
use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use handlers::Auth;
use herald_contracts::rpc::auth::{Login, Register};
use herald_contracts::streams::{AUDIT, IDENTITY};
use herald_kit::{App, Env, KitError, ServiceInfo};
use passwords::Passwords;
use revocations::Revocations;
use std::sync::Arc;
use tokens::TokenIssuer;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");
pub const SCHEMA: &str = "auth";
pub const SERVICE: &str = "auth";

pub fn info() -> ServiceInfo {
    ServiceInfo {
        name: SERVICE,
        version: env!("CARGO_PKG_VERSION"),
        streams: &[IDENTITY, AUDIT, herald_contracts::streams::PRIVACY],
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
    let tokens = Arc::new(TokenIssuer::new(key));
    let revocations = Revocations::open(&app.js, app.config.stream_replicas).await?;
    revocations.republish(&db).await?;
    let api_keys = api_keys::ApiKeyBucket::open(&app.js, app.config.stream_replicas).await?;
    api_keys.republish(&db).await?;
    let ring = keys::KeyRing {
        db: db.clone(),
        js: app.js.clone(),
        master: config.master_key.clone(),
        replicas: app.config.stream_replicas,
        tokens: tokens.clone(),
    };
    app.spawn(ring.clone().follow(app.intake_token()));
    let auth = Auth {
        db,
        outbox: app.outbox.clone(),
        passwords: Arc::new(passwords),
        tokens,
        revocations: Arc::new(revocations),
        api_keys: Arc::new(api_keys),
        login: config.login,
        identity: config.identity,
    };
    let state = auth.clone();
    app.serve::<Register>(move |ctx, request| {
        handlers::register::handle(state.clone(), ctx, request)
    })
    .await?;
    let state = auth.clone();
    app.serve::<Login>(move |ctx, request| handlers::login::handle(state.clone(), ctx, request))
        .await?;
    serve_sessions(&mut app, &auth, ring).await?;
    serve_audit(&mut app, &auth).await?;
    serve_identity(&mut app, &auth).await?;
    exports::serve(&mut app, &auth).await?;
    serve_api_keys(&mut app, &auth).await?;
    erasure::serve(&mut app, &auth).await?;
    Ok(app)
}

/// Sessions (refresh, logout, password, members) and key rotation.
async fn serve_sessions(app: &mut App, auth: &Auth, ring: keys::KeyRing) -> Result<(), KitError> {
    use herald_contracts::rpc::auth::{
        ChangePassword, ListMembers, Logout, LogoutAll, Refresh, RemoveMember, RotateKeys,
    };
    let state = auth.clone();
    app.serve::<Refresh>(move |ctx, request| {
        handlers::refresh::handle(state.clone(), ctx, request)
    })
    .await?;
    let state = auth.clone();
    app.serve::<Logout>(move |ctx, request| handlers::logout::handle(state.clone(), ctx, request))
        .await?;
    let state = auth.clone();
    app.serve::<LogoutAll>(move |ctx, request| {
        handlers::logout::handle_all(state.clone(), ctx, request)
    })
    .await?;
    let state = auth.clone();
    app.serve::<ChangePassword>(move |ctx, request| {
        handlers::password::handle(state.clone(), ctx, request)
    })
    .await?;
    let state = auth.clone();
    app.serve::<RemoveMember>(move |ctx, request| {
        handlers::members::remove(state.clone(), ctx, request)
    })
    .await?;
    let state = auth.clone();
    app.serve::<ListMembers>(move |ctx, request| {
        handlers::members::list(state.clone(), ctx, request)
    })
    .await?;
    app.serve::<RotateKeys>(move |ctx, request| keys::rotation::handle(ring.clone(), ctx, request))
        .await?;
    Ok(())
}

/// API keys: create, list, revoke, and the gateways' use reports.
async fn serve_api_keys(app: &mut App, auth: &Auth) -> Result<(), KitError> {
    use herald_contracts::rpc::api_keys::{CreateApiKey, ListApiKeys, RevokeApiKey};
    let state = auth.clone();
    app.serve::<CreateApiKey>(move |ctx, request| {
        handlers::api_keys::create(state.clone(), ctx, request)
    })
    .await?;
    let state = auth.clone();
    app.serve::<ListApiKeys>(move |ctx, request| {
        handlers::api_keys::list(state.clone(), ctx, request)
    })
    .await?;
    let state = auth.clone();
    app.serve::<RevokeApiKey>(move |ctx, request| {
        handlers::api_keys::revoke(state.clone(), ctx, request)
    })
    .await?;
    app.spawn(handlers::api_keys::follow_use(
        auth.clone(),
        app.nats.clone(),
        app.intake_token(),
    ));
    Ok(())
}

/// Roles, invitations, email verification, password reset and `rpc.auth.me`.
async fn serve_identity(app: &mut App, auth: &Auth) -> Result<(), KitError> {
    use herald_contracts::rpc::identity::{
        AcceptInvitation, ChangeMemberRole, ConfirmPasswordReset, CreateInvitation, GetMe,
        ListInvitations, RequestPasswordReset, ResendVerification, RevokeInvitation, VerifyEmail,
    };
    let state = auth.clone();
    app.serve::<ChangeMemberRole>(move |ctx, request| {
        handlers::roles::change(state.clone(), ctx, request)
    })
    .await?;
    let state = auth.clone();
    app.serve::<CreateInvitation>(move |ctx, request| {
        handlers::invitations::create(state.clone(), ctx, request)
    })
    .await?;
    let state = auth.clone();
    app.serve::<ListInvitations>(move |ctx, request| {
        handlers::invitations::list(state.clone(), ctx, request)
    })
    .await?;
    let state = auth.clone();
    app.serve::<RevokeInvitation>(move |ctx, request| {
        handlers::invitations::revoke(state.clone(), ctx, request)
    })
    .await?;
    let state = auth.clone();
    app.serve::<AcceptInvitation>(move |ctx, request| {
        handlers::invitations::accept(state.clone(), ctx, request)
    })
    .await?;
    let state = auth.clone();
    app.serve::<VerifyEmail>(move |ctx, request| {
        handlers::email::verify(state.clone(), ctx, request)
    })
    .await?;
    let state = auth.clone();
    app.serve::<ResendVerification>(move |ctx, request| {
        handlers::email::resend(state.clone(), ctx, request)
    })
    .await?;
    let state = auth.clone();
    app.serve::<GetMe>(move |ctx, request| handlers::email::me(state.clone(), ctx, request))
        .await?;
    let state = auth.clone();
    app.serve::<RequestPasswordReset>(move |ctx, request| {
        handlers::password_reset::request(state.clone(), ctx, request)
    })
    .await?;
    let state = auth.clone();
    app.serve::<ConfirmPasswordReset>(move |ctx, request| {
        handlers::password_reset::confirm(state.clone(), ctx, request)
    })
    .await?;
    app.spawn(handlers::email::prune_loop(
        auth.db.clone(),
        app.intake_token(),
    ));
    Ok(())
}

/// The audit log: the `AUDIT` stream stored, `rpc.auth.audit.list`, and the throttle's sweep.
async fn serve_audit(app: &mut App, auth: &Auth) -> Result<(), KitError> {
    use herald_contracts::messages::audit::AUDIT_FILTER;
    use herald_contracts::rpc::audit::ListAudit;
    app.consume_tx(
        herald_kit::ConsumerSpec::new(AUDIT, audit::CONSUMER, AUDIT_FILTER),
        audit::StoreAuditEvent,
    )
    .await?;
    let state = auth.clone();
    app.serve::<ListAudit>(move |ctx, request| handlers::audit::list(state.clone(), ctx, request))
        .await?;
    let idle = auth.login.account.window + auth.login.account.lock_max;
    app.spawn(throttle::sweep_loop(
        auth.db.clone(),
        idle,
        app.intake_token(),
    ));
    Ok(())
}
