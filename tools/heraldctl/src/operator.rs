//! The NATS connection of operator commands: the fleet's credentials and TLS settings
//! (`HERALD_NATS_USER`/`_PASSWORD`, `_TOKEN`, `_CA_FILE`), and a short connect timeout so a
//! command fails at once when nobody answers instead of waiting for a server.

use anyhow::{Context, Result};
use herald_kit::async_nats;
use std::time::Duration;

pub async fn connect(url: &str) -> Result<async_nats::Client> {
    let nats = herald_kit::config::NatsConnect::from_env_with_url(
        &herald_kit::Env::from_process(),
        url.to_owned(),
    )?;
    herald_kit::nats::connect_options(&nats)
        .name("heraldctl")
        .connection_timeout(Duration::from_secs(5))
        .connect(url)
        .await
        .with_context(|| format!("cannot connect to NATS at {url}"))
}
