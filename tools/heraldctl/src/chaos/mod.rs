//! `heraldctl chaos --posts N`: the acceptance test of "publishing exactly once under chaos"
//! (DESIGN §10). It runs a fleet of its own — nats-server, a Postgres cluster, the sandbox
//! in-process, two publisher replicas, billing and notifier — and schedules N posts, one
//! target each, round-robin over the platforms and their accounts, with the sandbox's faults
//! on. While they publish it kills a random publisher replica (SIGKILL) every few seconds and
//! starts it again, and restarts nats-server once and Postgres once. Then it counts what
//! reached the sandbox, where every target ended, what billing metered and what the notifier
//! wrote, prints a summary and, as its last line,
//! `chaos: targets=<n> published_once=<n> duplicates=<d> missing=<m> usage=<u> notifications=<k>`.
//! It exits non-zero unless d = m = 0, usage = published_once and there is one notification
//! per terminal event, and when the posts did not settle before the deadline.

mod accounts;
mod db;
mod media;
mod plan;
mod posts;
mod report;
mod stack;
mod storm;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use herald_contracts::messages::Platform;
use herald_contracts::rpc::{Identity, Role};
use herald_contracts::{TenantId, UserId};
use herald_sandbox::Faults;

use crate::up::log::{init_tracing_with, say};
use crate::up::{Signals, services};
use plan::Plan;
use report::Tally;
use stack::Stack;
use storm::StormLog;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Posts to schedule, one target each (the short run is 500, its long one 10,000)
    #[arg(long, default_value_t = 500,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    posts: u32,
    /// Platforms to publish to, comma-separated [default: all seven; Instagram's posts carry
    /// a rendered image]
    #[arg(long, value_delimiter = ',', value_parser = parse_platform)]
    platforms: Vec<Platform>,
    /// Seconds over which the posts' times are spread [default: N/20, at least 15]
    #[arg(long, value_name = "SECS")]
    spread: Option<u64>,
    /// Seconds after the first post is due by which every post must have settled
    /// [default: 120 + N/10 + the spread]
    #[arg(long, value_name = "SECS")]
    deadline: Option<u64>,
    /// No faults, kills or restarts: the same run as a baseline
    #[arg(long)]
    calm: bool,
    /// Keep the run directory with the services' logs even when the run passes
    #[arg(long)]
    keep_logs: bool,
}

fn parse_platform(value: &str) -> Result<Platform, String> {
    Platform::parse(value).ok_or_else(|| {
        let known: Vec<&str> = Platform::ALL.iter().map(Platform::as_str).collect();
        format!("unknown platform {value:?} (one of {})", known.join(", "))
    })
}

/// What a finished run found.
struct Outcome {
    storm: StormLog,
    tally: Tally,
    elapsed: Duration,
}

pub async fn run(args: Args) -> Result<ExitCode> {
    let mut signals = Signals::new()?;
    init_tracing_with("warn");
    let plan = Plan::new(&args);
    let bin_dir = services::bin_dir()?;
    services::check_binaries(&bin_dir, &stack::BINARIES)?;
    herald_testkit::find_nats_server()?;
    let mut stack = Stack::new(bin_dir)?;
    let started = Instant::now();
    let result = tokio::select! {
        result = drive(&plan, &mut stack) => Some(result),
        name = signals.recv() => {
            say(format!("{name} received: stopping"));
            None
        }
    };
    stack
        .stop(async {
            signals.recv().await;
        })
        .await;
    let outcome = match result {
        None => {
            say(format!(
                "interrupted; logs kept in {}",
                stack.keep_logs().display()
            ));
            return Ok(ExitCode::FAILURE);
        }
        Some(Err(error)) => {
            say(format!("logs kept in {}", stack.keep_logs().display()));
            return Err(error);
        }
        Some(Ok(outcome)) => outcome,
    };
    let passed = outcome.tally.passed() && !outcome.storm.timed_out;
    if !passed || args.keep_logs {
        say(format!("logs kept in {}", stack.keep_logs().display()));
    }
    print_summary(&plan, &outcome, started.elapsed());
    Ok(if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn drive(plan: &Plan, stack: &mut Stack) -> Result<Outcome> {
    stack.start_infra().await?;
    stack.start_services().await?;
    let client = herald_kit::async_nats::connect(stack.nats()?.url())
        .await
        .context("connecting to nats-server")?;
    let tenant = TenantId::new();
    let caller = Identity {
        tenant_id: tenant,
        user_id: UserId::new(),
        role: Role::Owner,
        api_key_id: None,
    };
    let sandbox_url = stack.sandbox()?.base_url().to_owned();
    let accounts = accounts::connect_all(&client, &caller, &sandbox_url, plan).await?;
    let card = media::render_card(&client, &caller, &plan.run_id).await?;
    set_faults(
        stack,
        plan,
        if plan.calm {
            Faults::default()
        } else {
            plan::FAULTS
        },
    )?;

    // Creating takes a few ms a post: the first is due once most are created.
    let lead = Duration::from_secs(5).max(Duration::from_millis(4 * plan.posts as u64));
    let first_due = chrono::Utc::now() + chrono::Duration::from_std(lead)?;
    let creator = posts::Creator {
        client: &client,
        caller: &caller,
        database_url: stack.database_url(),
        plan,
        accounts: &accounts,
        card: &card,
    };
    creator.create_all(first_due).await?;
    let wait = (first_due - chrono::Utc::now())
        .to_std()
        .unwrap_or_default();
    tokio::time::sleep(wait).await;

    say(format!(
        "chaos starts: {} posts due over {}s, deadline {}s",
        plan.posts,
        plan.spread.as_secs(),
        plan.deadline.as_secs()
    ));
    let started = Instant::now();
    let storm = storm::run(stack, plan, tenant).await?;
    let elapsed = started.elapsed();
    set_faults(stack, plan, Faults::default())?;
    let counter = report::Counter {
        client: &client,
        caller: &caller,
        database_url: stack.database_url(),
        plan,
        card_hash: &card.content_hash,
    };
    let sandbox = stack.sandbox()?;
    let tally = counter.count(|| sandbox.posts()).await?;
    Ok(Outcome {
        storm,
        tally,
        elapsed,
    })
}

fn set_faults(stack: &Stack, plan: &Plan, faults: Faults) -> Result<()> {
    let sandbox = stack.sandbox()?;
    for platform in &plan.platforms {
        let platform: herald_sandbox::Platform = platform
            .as_str()
            .parse()
            .context("a platform the sandbox does not know")?;
        sandbox.set_faults(platform, faults)?;
    }
    Ok(())
}

/// The summary, then the verdict line, last.
fn print_summary(plan: &Plan, outcome: &Outcome, total: Duration) {
    let storm = &outcome.storm;
    let platforms: Vec<&str> = plan.platforms.iter().map(Platform::as_str).collect();
    let at = |secs: Option<f64>| secs.map_or_else(|| "never".to_owned(), |s| format!("at {s:.1}s"));
    let faults = if plan.calm {
        "calm run: no faults, kills or restarts".to_owned()
    } else {
        let f = plan::FAULTS;
        format!(
            "faults on every platform: {:.0}% dropped after commit, {:.0}% 5xx, {:.0}% 429",
            f.drop_after_commit_rate * 100.0,
            f.error_rate * 100.0,
            f.rate_limit_rate * 100.0
        )
    };
    let settled = match (storm.settled_after, storm.timed_out) {
        (_, true) => format!("NOT settled by the deadline ({}s)", plan.deadline.as_secs()),
        (Some(secs), false) => format!("every post settled after {secs:.1}s"),
        (None, false) => "settled".to_owned(),
    };
    println!(
        "\nchaos run {}: {} posts over {} with 2 publisher replicas\n  {faults}\n  \
         {} kill -9 of a publisher replica, {} service restarts, nats-server restarted {}, \
         Postgres restarted {}\n  {settled}; chaos lasted {:.1}s, the whole run {:.1}s",
        plan.run_id,
        plan.posts,
        platforms.join(", "),
        storm.kills,
        storm.restarts,
        at(storm.nats_restarted_at),
        at(storm.postgres_restarted_at),
        outcome.elapsed.as_secs_f64(),
        total.as_secs_f64(),
    );
    for exit in &storm.unexpected_exits {
        println!("  unexpected: {}", exit.lines().next().unwrap_or_default());
    }
    print!("{}", report::table(&outcome.tally));
    println!("{}", outcome.tally.last_line());
}
