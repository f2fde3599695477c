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
        streams: &[POSTS, BILLING],
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
    app.serve::<GetUsage>(move |ctx, request| {
        handlers::get_usage::handle(db.clone(), ctx, request)
    })
    .await?;
    Ok(app)
}
