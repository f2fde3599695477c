//! `heraldctl erasures <id>`: the status of a GDPR erasure (`rpc.auth.erasure.status` on the
//! internal bus), as `GET /v1/erasures/{id}` shows it: pending or complete, and when each
//! service confirmed. Exits 0 when complete, 3 while pending.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use herald_contracts::rpc::erasure::{ErasureStatus, ErasureStatusRequest, GetErasure};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// NATS server the auth service answers on
    #[arg(
        long,
        env = "HERALD_NATS_URL",
        default_value = "nats://127.0.0.1:4222",
        value_name = "URL"
    )]
    nats_url: String,
    /// The erasure id `DELETE /v1/me` or `DELETE /v1/tenant` answered with
    id: String,
    /// Print the status as JSON
    #[arg(long)]
    json: bool,
}

pub async fn run(args: Args) -> Result<ExitCode> {
    let client = crate::operator::connect(&args.nats_url).await?;
    let request_id = format!("heraldctl-erasures-{}", std::process::id());
    let view = herald_kit::rpc::call::<GetErasure>(
        &client,
        &request_id,
        None,
        ErasureStatusRequest {
            erasure_id: args.id.clone(),
        },
        Duration::from_secs(10),
    )
    .await
    .map_err(|error| anyhow::anyhow!("{}", error.message))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&view)?);
    } else {
        let status = match view.status {
            ErasureStatus::Pending => "pending",
            ErasureStatus::Complete => "complete",
        };
        println!("{status} (requested {})", view.requested_at);
        for service in &view.services {
            match service.confirmed_at {
                Some(at) => println!("  {:<10} confirmed {at}", service.service),
                None => println!("  {:<10} waiting", service.service),
            }
        }
    }
    Ok(match view.status {
        ErasureStatus::Complete => ExitCode::SUCCESS,
        ErasureStatus::Pending => ExitCode::from(3),
    })
}
