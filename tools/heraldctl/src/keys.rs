//! `heraldctl keys rotate`: asks auth (`rpc.auth.keys.rotate` on the internal bus) for a new
//! signing key. Every auth replica signs with it from then on; the previous key stays in
//! `auth-keys` until the tokens it signed have expired, so nobody is logged out.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use herald_contracts::rpc::auth::{NoParams, RotateKeys};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// NATS server the auth service answers on
    #[arg(
        long,
        global = true,
        env = "HERALD_NATS_URL",
        default_value = "nats://127.0.0.1:4222",
        value_name = "URL"
    )]
    nats_url: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Create a new signing key and sign with it from now on; prints the new kid
    Rotate,
}

pub async fn run(args: Args) -> Result<ExitCode> {
    match args.command {
        Command::Rotate => rotate(&args.nats_url).await,
    }
}

async fn rotate(nats_url: &str) -> Result<ExitCode> {
    let client = crate::operator::connect(nats_url).await?;
    let request_id = format!("heraldctl-keys-rotate-{}", std::process::id());
    let rotated = herald_kit::rpc::call::<RotateKeys>(
        &client,
        &request_id,
        None,
        NoParams {},
        Duration::from_secs(30),
    )
    .await
    .map_err(|error| anyhow::anyhow!("auth refused the rotation: {}", error.message))?;
    println!("{}", rotated.kid);
    eprintln!(
        "signing with {}; verifiable keys: {}",
        rotated.kid,
        rotated.published.join(", ")
    );
    Ok(ExitCode::SUCCESS)
}
