//! `heraldctl bench publish`: end-to-end publish throughput and lateness of the fleet on this
//! machine, next to a raw JetStream publish+consume baseline measured in the same run.
//!
//! Everything runs here: a private nats-server, a fresh database (on `DATABASE_URL`'s server
//! or a private cluster), the sandbox, and the publisher, billing and notifier in-process.
//! N posts with one target each are scheduled for the same whole second; the run measures
//! from that second until every target is `done`, then until billing has metered them all.
//! Figures are printed, never asserted: a slow machine prints slow figures.

mod raw;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Duration as ChronoDuration, SubsecRound, Utc};
use clap::{Args as ClapArgs, Subcommand};
use diesel::QueryableByName;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures::StreamExt;
use herald_contracts::TenantId;
use herald_contracts::messages::Platform;
use herald_contracts::rpc::Role;
use herald_contracts::rpc::publisher::{
    ConnectAccount, ConnectAccountRequest, CreatePost, CreatePostRequest,
};
use herald_testkit::{NatsServer, Running, Template, identity, postgres, service_env};
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(Debug, ClapArgs)]
pub struct Args {
    #[command(subcommand)]
    command: Bench,
}

#[derive(Debug, Subcommand)]
enum Bench {
    /// Publish N single-target posts due at the same second and measure the fleet
    Publish(PublishArgs),
}

#[derive(Debug, ClapArgs)]
struct PublishArgs {
    /// Posts (each with one target) due at the same second
    #[arg(long, default_value_t = 2000)]
    posts: usize,
    /// Connected accounts the posts are spread over
    #[arg(long, default_value_t = 50)]
    accounts: usize,
    /// Messages for the raw JetStream baseline
    #[arg(long, default_value_t = 20_000)]
    raw_messages: usize,
    /// Run the publisher alone (no billing or notifier consuming its events), to see what
    /// the consumers cost
    #[arg(long)]
    publisher_only: bool,
    /// Give up waiting for the fleet after this many seconds
    #[arg(long, default_value_t = 600)]
    timeout_secs: u64,
}

static TEMPLATE: Template = Template {
    name: "bench_fleet",
    migrate: |url| {
        Box::pin(async move {
            herald_kit::db::migrate(&url, herald_publisher::SCHEMA, herald_publisher::MIGRATIONS)
                .await?;
            herald_kit::db::migrate(&url, herald_billing::SCHEMA, herald_billing::MIGRATIONS)
                .await?;
            herald_kit::db::migrate(&url, herald_notifier::SCHEMA, herald_notifier::MIGRATIONS)
                .await?;
            Ok(())
        })
    },
};

pub async fn run(args: Args) -> Result<ExitCode> {
    match args.command {
        Bench::Publish(args) => publish(args).await,
    }
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Lateness {
    #[diesel(sql_type = diesel::sql_types::Double)]
    ms: f64,
    #[diesel(sql_type = diesel::sql_types::Timestamptz)]
    done_at: DateTime<Utc>,
}

async fn count(conn: &mut AsyncPgConnection, sql: &str) -> Result<i64> {
    Ok(diesel::sql_query(sql).get_result::<Count>(conn).await?.n)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Settings the bench passes from its own environment to the services it runs.
const TUNING: &[&str] = &[
    "HERALD_DB_POOL_SIZE",
    "HERALD_GROUP_MAX",
    "HERALD_GROUP_WORKERS",
    "HERALD_CONSUMER_CONCURRENCY",
];

async fn publish(args: PublishArgs) -> Result<ExitCode> {
    if args.posts == 0 || args.accounts == 0 {
        bail!("--posts and --accounts must be at least 1");
    }
    let nats = NatsServer::start().context("starting nats-server")?;
    let raw = raw::baseline(&nats.url(), args.raw_messages).await?;
    println!(
        "raw jetstream: {} messages published in {:.2} s ({:.0}/s) and consumed in {:.2} s ({:.0}/s): {:.0} msgs/s end to end",
        raw.messages,
        raw.publish.as_secs_f64(),
        raw.messages as f64 / raw.publish.as_secs_f64(),
        raw.consume.as_secs_f64(),
        raw.messages as f64 / raw.consume.as_secs_f64(),
        raw.msgs_per_s(),
    );

    let db = postgres().await?.fresh_db(&TEMPLATE).await?;
    let sandbox = herald_sandbox::Sandbox::new()
        .workers(2)
        .start(std::net::TcpListener::bind("127.0.0.1:0")?)
        .await?;
    let mut settings: Vec<(String, String)> = vec![
        (
            "HERALD_PUBLISHER_ALLOW_PRIVATE_NETWORKS".into(),
            "true".into(),
        ),
        ("HERALD_LOG".into(), "error".into()),
        ("HERALD_DB_POOL_SIZE".into(), "16".into()),
    ];
    // Tuning knobs given to the bench (pool size, group commit, concurrency) reach the
    // services it runs, so their effect can be measured.
    for key in TUNING {
        if let Ok(value) = std::env::var(key) {
            settings.retain(|(k, _)| k != key);
            settings.push(((*key).to_owned(), value));
        }
    }
    let pairs: Vec<(&str, &str)> = settings
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let env = service_env(&nats.url(), Some(db.url()), &pairs);
    let publisher = Running::spawn(herald_publisher::start(env.clone()).await?);
    let billing = if args.publisher_only {
        None
    } else {
        Some(Running::spawn(herald_billing::start(env.clone()).await?))
    };
    let notifier_dir = tempfile_dir()?;
    let notifier_env = service_env(
        &nats.url(),
        Some(db.url()),
        &[
            ("HERALD_LOG", "error"),
            (
                "HERALD_NOTIFIER_MAILBOX",
                &notifier_dir.join("mbox").to_string_lossy(),
            ),
        ],
    );
    let notifier = if args.publisher_only {
        None
    } else {
        Some(Running::spawn(herald_notifier::start(notifier_env).await?))
    };
    let client = herald_kit::async_nats::connect(nats.url()).await?;
    let tenant = TenantId::new();
    let caller = identity(tenant, Role::Admin);
    let rpc_timeout = Duration::from_secs(30);

    let mut accounts = Vec::with_capacity(args.accounts);
    for i in 0..args.accounts {
        let account = herald_kit::rpc::call::<ConnectAccount>(
            &client,
            "bench-connect",
            Some(caller.clone()),
            ConnectAccountRequest {
                platform: Platform::Mastodon,
                instance_url: Some(sandbox.base_url().to_owned()),
                access_token: Some(format!("bench-token-{i}")),
                ..ConnectAccountRequest::default()
            },
            rpc_timeout,
        )
        .await?;
        accounts.push(account.id);
    }

    // All posts due at one whole second, far enough ahead for the creations to finish.
    let lead = ChronoDuration::milliseconds((3000 + args.posts as i64 * 4).min(120_000));
    let due = (Utc::now() + lead).trunc_subsecs(0) + ChronoDuration::seconds(1);
    let created_started = Instant::now();
    let creations = futures::stream::iter(0..args.posts)
        .map(|i| {
            let client = client.clone();
            let caller = caller.clone();
            let account = accounts[i % accounts.len()];
            async move {
                herald_kit::rpc::call::<CreatePost>(
                    &client,
                    "bench-create",
                    Some(caller),
                    CreatePostRequest {
                        text: format!("bench post {i}"),
                        scheduled_at: Some(due),
                        account_ids: vec![account],
                        media: Vec::new(),
                        lateness: None,
                    },
                    rpc_timeout,
                )
                .await
            }
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await;
    let failed = creations.iter().filter(|r| r.is_err()).count();
    if failed > 0 {
        bail!("{failed} of {} posts could not be created", args.posts);
    }
    let created_in = created_started.elapsed();
    let slack = (due - Utc::now()).num_milliseconds();
    println!(
        "created {} posts in {:.2} s ({:.0}/s); due at {due} ({slack} ms of slack)",
        args.posts,
        created_in.as_secs_f64(),
        args.posts as f64 / created_in.as_secs_f64()
    );
    if slack < 0 {
        println!("warning: creating the posts overran their due time; lateness includes it");
    }

    let mut conn = AsyncPgConnection::establish(db.url()).await?;
    let deadline = Instant::now() + Duration::from_secs(args.timeout_secs);
    let total = args.posts as i64;
    loop {
        let done = count(
            &mut conn,
            "SELECT count(*) AS n FROM publisher.post_targets WHERE state = 'done'",
        )
        .await?;
        if done >= total {
            break;
        }
        if Instant::now() > deadline {
            bail!(
                "only {done} of {total} targets published after {} s",
                args.timeout_secs
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut lateness: Vec<Lateness> = diesel::sql_query(
        "SELECT (extract(epoch FROM t.published_at - p.scheduled_at) * 1000)::float8 AS ms, \
                t.published_at AS done_at \
         FROM publisher.post_targets t JOIN publisher.posts p ON p.id = t.post_id",
    )
    .load(&mut conn)
    .await?;
    lateness.sort_by(|a, b| a.ms.total_cmp(&b.ms));
    let ms: Vec<f64> = lateness.iter().map(|l| l.ms).collect();
    let last_done = lateness.iter().map(|l| l.done_at).max().unwrap_or(due);
    let span = (last_done - due).num_milliseconds().max(1) as f64 / 1000.0;
    let per_s = total as f64 / span;
    let (p50, p99) = (percentile(&ms, 50.0), percentile(&ms, 99.0));
    println!(
        "fleet: {total} targets published {span:.2} s after their due second: {per_s:.0} targets/s; \
         lateness (due → done) p50 {p50:.0} ms, p99 {p99:.0} ms, max {:.0} ms",
        ms.last().copied().unwrap_or_default()
    );
    // Where the time went: when the server fired each schedule (the due message's stream
    // time) against the due second, and the rest, which is Herald's handling.
    let due_messages = herald_testkit::read_stream(&client, "POSTS", "posts.due.>").await?;
    let mut fired: Vec<f64> = due_messages
        .iter()
        .filter_map(|m| m.info().ok())
        .map(|info| {
            let at = DateTime::<Utc>::from_timestamp(
                info.published.unix_timestamp(),
                info.published.nanosecond(),
            )
            .unwrap_or(due);
            (at - due).num_milliseconds() as f64
        })
        .collect();
    fired.sort_by(f64::total_cmp);
    println!(
        "  of which the server fired the {} schedules: p50 {:.0} ms, p99 {:.0} ms, last {:.0} ms after the due second",
        fired.len(),
        percentile(&fired, 50.0),
        percentile(&fired, 99.0),
        fired.last().copied().unwrap_or_default()
    );
    let metered_by = if billing.is_none() {
        None
    } else {
        Some(loop {
            let metered = count(
                &mut conn,
                "SELECT COALESCE(sum(quantity), 0)::bigint AS n FROM billing.usage_ledger",
            )
            .await?;
            if metered >= total {
                break Utc::now();
            }
            if Instant::now() > deadline {
                bail!("billing metered only {metered} of {total} targets");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        })
    };
    if let Some(metered_by) = metered_by {
        println!(
            "billing metered every target {:.2} s after the due second",
            (metered_by - due).num_milliseconds() as f64 / 1000.0
        );
    }

    if let Some(notifier) = notifier {
        notifier.stop().await?;
    }
    if let Some(billing) = billing {
        billing.stop().await?;
    }
    publisher.stop().await?;
    sandbox.stop().await?;
    let _ = std::fs::remove_dir_all(&notifier_dir);
    println!(
        "bench publish: targets_per_s={per_s:.0} lateness_p50_ms={p50:.0} lateness_p99_ms={p99:.0} raw_jetstream_msgs_per_s={:.0}",
        raw.msgs_per_s()
    );
    Ok(ExitCode::SUCCESS)
}

fn tempfile_dir() -> Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("herald-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
