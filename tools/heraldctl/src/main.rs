//! heraldctl: the operator's tool. `up` runs the whole fleet locally, `migrate` runs every
//! service's migrations as a one-off (the Kubernetes Job), `schemas` writes or checks the
//! contracts' JSON Schemas, `dlq` lists, shows and replays dead letters, `chaos` proves that
//! posts are published exactly once while the fleet is being broken.

mod bench;
mod chaos;
mod dlq;
mod erasures;
mod keys;
mod migrate;
mod operator;
mod schemas;
mod up;
mod workspace;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "heraldctl", version, about = "Operate Herald")]
struct Cli {
    /// Repository root [default: the nearest directory upwards whose Cargo.toml has
    /// `[workspace]`, else the current directory]
    #[arg(long, global = true, value_name = "DIR")]
    dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write the contracts' JSON Schemas into <repo>/schemas/
    Schemas {
        /// Write nothing: print the files that differ from the code and exit 1 if any do
        #[arg(long)]
        check: bool,
    },
    /// Run every service's migrations against HERALD_DATABASE_URL (or DATABASE_URL)
    Migrate,
    /// Run the whole fleet locally on embedded defaults until Ctrl-C
    Up(up::Args),
    /// List, show and replay dead letters (the DLQ stream)
    Dlq(dlq::Args),
    /// Publish N posts while killing publishers and restarting NATS and Postgres, and check
    /// that each was published exactly once, metered once and notified once
    Chaos(chaos::Args),
    /// Signing keys: `keys rotate` starts signing with a new key, keeping the old verifiable
    Keys(keys::Args),
    /// The status of a GDPR erasure by its id (exit 0 complete, 3 pending)
    Erasures(erasures::Args),
    /// Measure the fleet: `bench publish` prints throughput and lateness next to a raw
    /// JetStream baseline
    Bench(bench::Args),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let root = workspace::root(cli.dir);
    let result = match cli.command {
        Command::Schemas { check } => schemas::run(&root, check),
        Command::Migrate => migrate::run().await,
        Command::Up(args) => up::run(root, args).await,
        Command::Dlq(args) => dlq::run(args).await,
        Command::Chaos(args) => chaos::run(args).await,
        Command::Bench(args) => bench::run(args).await,
        Command::Keys(args) => keys::run(args).await,
        Command::Erasures(args) => erasures::run(args).await,
    };
    result.unwrap_or_else(|error| {
        eprintln!("heraldctl: {error:#}");
        ExitCode::FAILURE
    })
}
