//! Waits, bounded, until every service's `/readyz` answers 200; a service that exits or stays
//! unready is named with its last log lines.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Result, bail};
use tokio::time::Instant;

use super::children::Fleet;
use super::log::say;

const POLL_EVERY: Duration = Duration::from_millis(250);

pub async fn wait_all(fleet: &Fleet, limit: Duration) -> Result<()> {
    let client = herald_kit::http::client(Duration::from_secs(2))?;
    let deadline = Instant::now() + limit;
    let mut ready = vec![false; fleet.services.len()];
    let mut last_answer = vec![String::from("no answer yet"); fleet.services.len()];
    loop {
        for (index, service) in fleet.services.iter().enumerate() {
            if let Some(exit) = service.exit() {
                // Let the output pumps catch the last lines.
                tokio::time::sleep(Duration::from_millis(200)).await;
                bail!(
                    "{} exited during start-up with {exit}; its last log lines:\n{}",
                    service.name,
                    service.tail.text()
                );
            }
            if ready[index] {
                continue;
            }
            match probe(&client, service.ops_addr).await {
                Ok(200) => {
                    ready[index] = true;
                    say(format!("{} is ready", service.name));
                }
                Ok(status) => last_answer[index] = format!("/readyz answered {status}"),
                Err(error) if error.is_connect() => {
                    last_answer[index] = "nothing listening for /readyz".into();
                }
                Err(error) if error.is_timeout() => {
                    last_answer[index] = "/readyz timed out".into();
                }
                Err(error) => last_answer[index] = format!("/readyz failed: {error}"),
            }
        }
        if ready.iter().all(|&r| r) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            let mut report = Vec::new();
            for (index, service) in fleet.services.iter().enumerate() {
                if !ready[index] {
                    report.push(format!(
                        "{} is not ready after {}s ({} on {}); its last log lines:\n{}",
                        service.name,
                        limit.as_secs(),
                        last_answer[index],
                        service.ops_addr,
                        service.tail.text()
                    ));
                }
            }
            bail!("{}", report.join("\n"));
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

async fn probe(client: &reqwest::Client, ops_addr: SocketAddr) -> Result<u16, reqwest::Error> {
    let response = client
        .get(format!("http://{ops_addr}/readyz"))
        .send()
        .await?;
    Ok(response.status().as_u16())
}
