//! insights: tracks published posts, collects their metrics from the platforms after
//! publishing (exactly one sample per target and round), and serves them.

pub mod config;
pub mod handlers;
pub mod platforms;
pub mod repo;

use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use herald_contracts::messages::insights::COLLECT_FILTER;
use herald_contracts::messages::posts::PUBLISHED_FILTER;
use herald_contracts::rpc::insights::GetPostMetrics;
use herald_contracts::streams::{INSIGHTS, POSTS};
use herald_kit::{App, ConsumerSpec, Env, KitError, ServiceInfo};

pub use config::InsightsConfig;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");
pub const SCHEMA: &str = "insights";

pub fn info() -> ServiceInfo {
    ServiceInfo {
        name: "insights",
        version: env!("CARGO_PKG_VERSION"),
        streams: &[POSTS, INSIGHTS, herald_contracts::streams::PRIVACY],
        storage: Some((SCHEMA, || MIGRATIONS)),
    }
}

/// Builds the service: consumers and endpoint registered, ready to `run`.
pub async fn start(env: Env) -> Result<App, KitError> {
    let config = InsightsConfig::from_env(&env.scoped("insights"))?;
    let http = herald_kit::http::client(config.fetch_timeout)?;
    let mut app = App::start(info(), &env).await?;
    let db = app.db()?;
    app.consume_tx(
        ConsumerSpec::new(POSTS, "insights-track", PUBLISHED_FILTER),
        handlers::post_published::TrackPublished,
    )
    .await?;
    let mut collect = ConsumerSpec::new(INSIGHTS, "insights-collect", COLLECT_FILTER);
    collect.concurrency = config.collect_concurrency;
    app.consume(
        collect,
        handlers::collect_metrics::CollectPostMetrics {
            db: db.clone(),
            http,
        },
    )
    .await?;
    app.consume_tx(
        ConsumerSpec::new(
            herald_contracts::streams::PRIVACY,
            herald_contracts::messages::privacy::erasure_consumer(handlers::erasure::SERVICE),
            herald_contracts::messages::privacy::ERASURE_REQUESTED_FILTER,
        ),
        handlers::erasure::EraseInsights,
    )
    .await?;
    app.serve::<GetPostMetrics>(move |ctx, request| {
        handlers::get_post_metrics::handle(db.clone(), ctx, request)
    })
    .await?;
    // GDPR export: this service's part, asked for by auth only.
    handlers::privacy_export::serve(&mut app).await?;
    Ok(app)
}
