//! `heraldctl dlq list|show|replay`: the operator's side of the dead-letter path (DESIGN §3).
//! The kit's mover copies a message a consumer gave up on to `dlq.<stream>.<consumer>` in the
//! `DLQ` stream; this reads those copies without consuming them and puts one back on its
//! original subject, recording the replay as a marker in the same stream. The reading and the
//! replaying live in the kit (`herald_kit::dlq::{letters, replay}`), so tests replay the same way.
//! Besides the mover's copies, the DLQ holds letters a service wrote itself when it gave up on a
//! piece of work (the publisher, for a post target that failed for good): they have a
//! `Herald-Dlq-Origin` header and no original stream sequence, and replay the same way.

mod replay;
mod show;

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use herald_contracts::streams::{DLQ, STREAM_DEFS, stream_def};
use herald_kit::async_nats::jetstream;
use herald_kit::dlq::letters::is_token;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// NATS server holding the streams
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
    /// One line per dead letter, oldest first (nothing is removed from the DLQ)
    List {
        #[command(flatten)]
        filter: Filter,
        /// Show only the N most recent dead letters
        #[arg(long, value_name = "N", default_value_t = 100,
              value_parser = clap::value_parser!(u64).range(1..))]
        limit: u64,
        /// Print a JSON array instead of a table
        #[arg(long)]
        json: bool,
    },
    /// Every header of one dead letter and its payload as pretty-printed JSON
    Show {
        /// The dead letter's sequence in the DLQ stream (first column of `dlq list`)
        #[arg(value_name = "DLQ-SEQ")]
        sequence: u64,
    },
    /// Republish dead letters to their original subjects, each at most once
    Replay {
        /// Sequences in the DLQ stream (first column of `dlq list`)
        #[arg(
            value_name = "DLQ-SEQ",
            required_unless_present = "all",
            conflicts_with = "all"
        )]
        sequences: Vec<u64>,
        /// Every dead letter not yet replayed (narrow it with --stream / --consumer)
        #[arg(long)]
        all: bool,
        /// With --all: only dead letters from this stream (e.g. POSTS)
        #[arg(long, requires = "all", value_parser = parse_stream)]
        stream: Option<String>,
        /// With --all: only dead letters of this consumer (e.g. billing-usage)
        #[arg(long, requires = "all", value_parser = parse_consumer)]
        consumer: Option<String>,
    },
}

/// Which dead letters: `None` matches any stream or consumer.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Filter {
    /// Only dead letters from this stream (e.g. POSTS)
    #[arg(long, value_parser = parse_stream)]
    pub stream: Option<String>,
    /// Only dead letters of this consumer (e.g. billing-usage)
    #[arg(long, value_parser = parse_consumer)]
    pub consumer: Option<String>,
}

pub async fn run(args: Args) -> Result<ExitCode> {
    let js = connect(&args.nats_url).await?;
    let dlq = js
        .get_stream(DLQ)
        .await
        .with_context(|| format!("cannot open the {DLQ} stream on {}", args.nats_url))?;
    match args.command {
        Command::List {
            filter,
            limit,
            json,
        } => {
            show::list(
                &dlq,
                &filter,
                usize::try_from(limit).unwrap_or(usize::MAX),
                json,
            )
            .await
        }
        Command::Show { sequence } => show::show(&dlq, sequence).await,
        Command::Replay {
            sequences,
            all,
            stream,
            consumer,
        } => {
            let targets = if all {
                replay::Targets::All(Filter { stream, consumer })
            } else {
                replay::Targets::Sequences(sequences)
            };
            replay::run(&js, &dlq, targets).await
        }
    }
}

/// Fails at once when nobody answers: an operator's command must not wait for a server.
async fn connect(url: &str) -> Result<jetstream::Context> {
    Ok(jetstream::new(crate::operator::connect(url).await?))
}

/// A stream that has a definition in the contracts (dead letters only come from those).
fn parse_stream(name: &str) -> Result<String> {
    match stream_def(name) {
        Some(def) => Ok(def.name.to_owned()),
        None => {
            let known: Vec<&str> = STREAM_DEFS.iter().map(|def| def.name).collect();
            bail!("unknown stream {name:?}; one of {}", known.join(", "))
        }
    }
}

/// A consumer name is one subject token of the dead letter's subject.
fn parse_consumer(name: &str) -> Result<String> {
    if !is_token(name) {
        bail!("{name:?} is not a consumer name");
    }
    Ok(name.to_owned())
}
