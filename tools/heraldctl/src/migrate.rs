//! `heraldctl migrate`: every service's migrations (the kit's outbox/inbox tables and the
//! service's own, each in the service's schema) as a one-off, the Kubernetes Job form. Services
//! also migrate at start-up under the same advisory lock, so running both is harmless.

use std::process::ExitCode;

use anyhow::{Context, Result};
use diesel_migrations::EmbeddedMigrations;

/// Schema and migrations of every service that owns storage (the gateway owns none).
const STORAGE: [(&str, EmbeddedMigrations); 6] = [
    (herald_auth::SCHEMA, herald_auth::MIGRATIONS),
    (herald_publisher::SCHEMA, herald_publisher::MIGRATIONS),
    (herald_renderer::SCHEMA, herald_renderer::MIGRATIONS),
    (herald_insights::SCHEMA, herald_insights::MIGRATIONS),
    (herald_billing::SCHEMA, herald_billing::MIGRATIONS),
    (herald_notifier::SCHEMA, herald_notifier::MIGRATIONS),
];

pub async fn run() -> Result<ExitCode> {
    let url = ["HERALD_DATABASE_URL", "DATABASE_URL"]
        .into_iter()
        .find_map(|var| std::env::var(var).ok().filter(|url| !url.is_empty()))
        .context("no database to migrate: set HERALD_DATABASE_URL or DATABASE_URL")?;
    for (schema, applied) in all(&url).await? {
        println!("{schema}: {applied} migration(s) applied");
    }
    Ok(ExitCode::SUCCESS)
}

/// Migrates every service's schema in `url`; returns how many migrations each applied.
pub async fn all(url: &str) -> Result<Vec<(&'static str, usize)>> {
    let mut applied = Vec::with_capacity(STORAGE.len());
    for (schema, migrations) in STORAGE {
        let count = herald_kit::db::migrate(url, schema, migrations)
            .await
            .with_context(|| format!("migrating the {schema} schema"))?;
        applied.push((schema, count));
    }
    Ok(applied)
}
