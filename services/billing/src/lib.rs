//! billing: meters usage from events exactly once (inbox + ledger in one transaction) and
//! answers usage queries.

pub mod handlers;
pub mod repo;

use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use herald_contracts::messages::posts::TARGET_PUBLISHED_FILTER;
use herald_contracts::rpc::billing::GetUsage;
use herald_contracts::streams::{BILLING, POSTS};
use herald_kit::{App, ConsumerSpec, Env, KitError, ServiceInfo};

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");
pub const SCHEMA: &str = "billing";

pub fn info() -> ServiceInfo {
    ServiceInfo {
        name: "billing",
        version: env!("CARGO_PKG_VERSION"),
        streams: &[POSTS, BILLING, herald_contracts::streams::PRIVACY],
        storage: Some((SCHEMA, || MIGRATIONS)),
    }
}

/// Builds the service: consumers and endpoints registered, ready to `run`.
pub async fn start(env: Env) -> Result<App, KitError> {
    let mut app = App::start(info(), &env).await?;
    let db = app.db()?;
    app.consume_tx(
        ConsumerSpec::new(POSTS, "billing-usage", TARGET_PUBLISHED_FILTER),
        handlers::post_published::MeterPublished,
    )
    .await?;
    app.consume_tx(
        ConsumerSpec::new(
            herald_contracts::streams::PRIVACY,
            herald_contracts::messages::privacy::erasure_consumer(handlers::erasure::SERVICE),
            herald_contracts::messages::privacy::ERASURE_REQUESTED_FILTER,
        ),
        handlers::erasure::EraseBilling,
    )
    .await?;
    app.serve::<GetUsage>(move |ctx, request| {
        handlers::get_usage::handle(db.clone(), ctx, request)
    })
    .await?;
    // GDPR export: this service's part, asked for by auth only.
    handlers::privacy_export::serve(&mut app).await?;
    Ok(app)
}
