//! `heraldctl up`: the whole fleet locally on embedded defaults, state under `<repo>/.herald/`:
//! a private nats-server, Postgres (a local cluster unless `DATABASE_URL` is set), the sandbox
//! in-process (the publisher calls it for every platform), the seven services as child
//! processes with tagged logs, a demo tenant. Ctrl-C
//! or SIGTERM stops the services first (SIGTERM, then SIGKILL after 30 s), then the sandbox,
//! nats-server and Postgres.

// Shared with `heraldctl chaos`, which runs part of the same fleet.
pub(crate) mod children;
pub(crate) mod infra;
pub(crate) mod log;
pub(crate) mod ready;
mod seed;
pub(crate) mod services;
pub(crate) mod state;
mod sys;

use std::net::{Ipv4Addr, TcpListener};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use herald_sandbox::SandboxHandle;
use herald_testkit::{NatsServer, PgCluster};
use tokio::signal::unix::{Signal, SignalKind, signal};

use children::{Fleet, Service};
use log::say;
use state::State;

/// How long each service gets to stop after SIGTERM.
const STOP_GRACE: Duration = Duration::from_secs(30);

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Port of the private nats-server
    #[arg(long, default_value_t = 14222)]
    nats_port: u16,
    /// Port of the local Postgres cluster (unused when DATABASE_URL is set)
    #[arg(long, default_value_t = 15432)]
    pg_port: u16,
    /// Port of the sandbox (the social networks' stand-in)
    #[arg(long, default_value_t = 8700)]
    sandbox_port: u16,
    /// Port of the gateway's public HTTP API
    #[arg(long, default_value_t = 8080)]
    http_port: u16,
    /// First of the seven consecutive ops ports (/livez /readyz /metrics), in the order
    /// gateway, auth, publisher, renderer, insights, billing, notifier
    #[arg(long, default_value_t = 9101, value_parser = clap::value_parser!(u16).range(1..=65529))]
    ops_port: u16,
    /// Seconds to wait for every service to be ready
    #[arg(long, default_value_t = 120)]
    ready_timeout: u64,
}

/// What `up` runs, so that whatever has started is stopped however start-up ends.
#[derive(Default)]
struct Stack {
    nats: Option<NatsServer>,
    pg: Option<PgCluster>,
    sandbox: Option<SandboxHandle>,
    fleet: Fleet,
}

pub async fn run(root: PathBuf, args: Args) -> Result<ExitCode> {
    // First, so that from here on Ctrl-C is ours to handle rather than the default exit.
    let mut signals = Signals::new()?;
    log::init_tracing();
    let bin_dir = services::bin_dir()?;
    services::check_binaries(&bin_dir, &services::NAMES)?;
    herald_testkit::find_nats_server()?;
    let external_db = std::env::var("DATABASE_URL")
        .ok()
        .filter(|url| !url.is_empty());
    let mut ports = vec![
        (args.nats_port, "--nats-port"),
        (args.sandbox_port, "--sandbox-port"),
        (args.http_port, "--http-port"),
    ];
    if external_db.is_none() {
        ports.push((args.pg_port, "--pg-port"));
    }
    for index in 0..services::NAMES.len() {
        ports.push((
            services::ops_addr(args.ops_port, index).port(),
            "--ops-port",
        ));
    }
    state::check_ports_free(&ports)?;
    let state = State::prepare(&root)?;

    let mut stack = Stack::default();
    let started = tokio::select! {
        result = start(&args, &state, &bin_dir, external_db, &mut stack) => Some(result),
        name = signals.recv() => {
            say(format!("{name} during start-up: stopping"));
            None
        }
    };
    let code = match started {
        None => ExitCode::SUCCESS,
        Some(Err(error)) => {
            say(format!("start-up failed: {error:#}"));
            ExitCode::FAILURE
        }
        Some(Ok(())) => {
            supervise(&mut stack.fleet, &mut signals).await;
            ExitCode::SUCCESS
        }
    };
    stop(stack, &mut signals).await;
    Ok(code)
}

async fn start(
    args: &Args,
    state: &State,
    bin_dir: &std::path::Path,
    external_db: Option<String>,
    stack: &mut Stack,
) -> Result<()> {
    say(format!("state in {}", state.dir.display()));
    let nats = stack
        .nats
        .insert(infra::start_nats(args.nats_port, state.nats_dir.clone()).await?);
    let nats_url = nats.url();
    say(format!(
        "nats-server ready on {nats_url} (log: {})",
        nats.log_path().display()
    ));

    let (database_url, shown_db) = match external_db {
        Some(url) => (url, "the database DATABASE_URL names".to_owned()),
        None => {
            let pg = stack
                .pg
                .insert(infra::start_postgres(state.pg_dir.clone(), args.pg_port).await?);
            let url = pg.url(infra::DATABASE);
            let shown = format!("{url} (log: {})", pg.log_path().display());
            (url, shown)
        }
    };
    say(format!("PostgreSQL ready: {shown_db}"));
    for (schema, applied) in crate::migrate::all(&database_url).await? {
        if applied > 0 {
            say(format!("{schema}: {applied} migration(s) applied"));
        }
    }

    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, args.sandbox_port))
        .with_context(|| format!("cannot listen on 127.0.0.1:{}", args.sandbox_port))?;
    let sandbox = stack.sandbox.insert(
        herald_sandbox::start(listener)
            .await
            .context("starting the sandbox")?,
    );
    let sandbox_url = sandbox.base_url().to_owned();
    say(format!("sandbox ready on {sandbox_url}"));

    let wiring = services::Wiring {
        bin_dir,
        nats_url: &nats_url,
        database_url: &database_url,
        first_ops_port: args.ops_port,
        http_port: args.http_port,
        sandbox_url: &sandbox_url,
        state,
    };
    for spec in services::specs(&wiring) {
        say(format!(
            "starting {} (ops on {})",
            spec.binary.display(),
            spec.ops_addr
        ));
        // Spawned here, on the main thread, which lives as long as heraldctl: the children's
        // parent-death signal is tied to the spawning thread.
        stack.fleet.services.push(Service::spawn(spec)?);
    }
    ready::wait_all(&stack.fleet, Duration::from_secs(args.ready_timeout)).await?;

    let gateway_url = format!("http://127.0.0.1:{}", args.http_port);
    let seeded = match seed::demo_tenant(&gateway_url, &sandbox_url).await {
        Ok(seeded) => {
            let what = if seeded.registered {
                "registered"
            } else {
                "already registered"
            };
            let account = seeded.account_id.map_or_else(
                || "sandbox account already connected".to_owned(),
                |id| format!("sandbox account {id}"),
            );
            say(format!(
                "demo tenant {what}: {} / {} ({account})",
                seed::DEMO_EMAIL,
                seed::DEMO_PASSWORD
            ));
            true
        }
        Err(error) => {
            say(format!(
                "could not seed the demo tenant (the fleet keeps running): {error:#}"
            ));
            false
        }
    };
    let script = seed::curl_script(&gateway_url, &sandbox_url);
    if let Err(error) = std::fs::write(&state.demo_script, &script) {
        say(format!(
            "cannot write {}: {error}",
            state.demo_script.display()
        ));
    }
    print_banner(
        &gateway_url,
        &sandbox_url,
        &nats_url,
        state,
        &script,
        seeded,
    );
    Ok(())
}

fn print_banner(
    gateway: &str,
    sandbox: &str,
    nats: &str,
    state: &State,
    script: &str,
    seeded: bool,
) {
    let login = if seeded {
        format!("{} / {}", seed::DEMO_EMAIL, seed::DEMO_PASSWORD)
    } else {
        "(not seeded, see above)".to_owned()
    };
    // Untagged, so the script can be copied as is.
    println!(
        "\nHerald is up.\n  gateway   {gateway}\n  sandbox   {sandbox}  (ledger: {sandbox}/__sandbox/ledger)\n  \
         nats      {nats}\n  mailbox   {}\n  demo      {login}\n\n\
         Publish a post as a new tenant (POSIX sh; also saved as {}):\n\n{script}\n\
         Ctrl-C stops everything.\n",
        state.mailbox.display(),
        state.demo_script.display(),
    );
}

/// Runs until a signal; a service that exits meanwhile is reported and the rest keep running.
async fn supervise(fleet: &mut Fleet, signals: &mut Signals) {
    loop {
        tokio::select! {
            name = signals.recv() => {
                say(format!("{name} received: stopping"));
                return;
            }
            (service, exit, tail) = fleet.next_exit() => {
                say(format!(
                    "{service} exited with {exit}; the rest keeps running (Ctrl-C to stop). Its last log lines:\n{}",
                    tail.text()
                ));
            }
        }
    }
}

/// Services first (they flush to NATS and Postgres on SIGTERM), then what they depend on.
async fn stop(stack: Stack, signals: &mut Signals) {
    let Stack {
        nats,
        pg,
        sandbox,
        mut fleet,
    } = stack;
    if !fleet.services.is_empty() {
        say("stopping the services");
        fleet
            .stop(STOP_GRACE, async {
                signals.recv().await;
            })
            .await;
    }
    if let Some(sandbox) = sandbox
        && let Err(error) = sandbox.stop().await
    {
        say(format!("stopping the sandbox: {error}"));
    }
    if let Some(mut nats) = nats {
        say("stopping nats-server");
        let stopped = tokio::task::spawn_blocking(move || nats.stop()).await;
        if let Ok(Err(error)) = stopped {
            say(format!("stopping nats-server: {error:#}"));
        }
    }
    if let Some(mut pg) = pg {
        say("stopping PostgreSQL");
        let stopped = tokio::task::spawn_blocking(move || pg.stop()).await;
        if let Ok(Err(error)) = stopped {
            say(format!("stopping PostgreSQL: {error:#}"));
        }
    }
    say("stopped");
}

/// SIGINT (Ctrl-C) and SIGTERM.
pub(crate) struct Signals {
    interrupt: Signal,
    terminate: Signal,
}

impl Signals {
    pub(crate) fn new() -> Result<Signals> {
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt()).context("cannot handle SIGINT")?,
            terminate: signal(SignalKind::terminate()).context("cannot handle SIGTERM")?,
        })
    }

    pub(crate) async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.interrupt.recv() => "SIGINT",
            _ = self.terminate.recv() => "SIGTERM",
        }
    }
}
