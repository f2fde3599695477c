//! The real `herald-insights` binary as a child process: readiness following NATS, and SIGTERM
//! in the middle of collecting metrics for a burst of published posts losing and duplicating
//! no sample.

use crate::support::TEMPLATE;
use anyhow::{Context, Result, bail};
use chrono::Utc;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use herald_contracts::messages::{Platform, PostPublished, PublishedTarget};
use herald_contracts::{AccountId, Envelope, Message, PostId, TenantId};
use herald_insights::SCHEMA;
use herald_insights::repo::schema::{metric_samples, tracked_posts};
use herald_kit::async_nats;
use herald_kit::db::Db;
use herald_testkit::{NatsServer, check_readiness_follows_nats, check_sigterm_mid_work, postgres};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const POSTS: usize = 50;

fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_herald-insights"))
}

fn env(nats: &NatsServer, database_url: &str) -> Vec<(String, String)> {
    [
        ("HERALD_NATS_URL", nats.url()),
        ("HERALD_DATABASE_URL", database_url.to_owned()),
        ("HERALD_INSIGHTS_FETCH_TIMEOUT_SECS", "5".to_owned()),
        ("HERALD_LOG", "info".to_owned()),
        ("HERALD_SHUTDOWN_TIMEOUT_SECS", "10".to_owned()),
        ("HERALD_OUTBOX_SWEEP_SECS", "1".to_owned()),
        ("HERALD_DB_POOL_SIZE", "4".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// Publishes `envelope` with `Nats-Msg-Id` = its id, as the outbox relay does.
async fn publish<M: Message>(client: &async_nats::Client, envelope: &Envelope<M>) -> Result<()> {
    let ack = herald_testkit::publish_envelope(client, envelope, &envelope.id).await?;
    if ack.duplicate {
        bail!("{} was taken for a duplicate", envelope.id);
    }
    Ok(())
}

/// Creates a public status on the sandbox as the account of bearer token `t1`.
async fn create_status(http: &reqwest::Client, base_url: &str, text: &str) -> Result<String> {
    let created: Value = http
        .post(format!("{base_url}/api/v1/statuses"))
        .bearer_auth("t1")
        .json(&json!({ "status": text }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    created["id"]
        .as_str()
        .map(str::to_owned)
        .context("status without id")
}

#[tokio::test]
async fn readiness_follows_nats_and_sigterm_exits_cleanly() {
    let mut nats = tokio::task::spawn_blocking(NatsServer::start)
        .await
        .unwrap()
        .unwrap();
    let test_db = postgres().await.unwrap().fresh_db(&TEMPLATE).await.unwrap();
    let env = env(&nats, test_db.url());
    check_readiness_follows_nats(binary(), &env, &mut nats)
        .await
        .unwrap();
}

/// (samples, distinct (post, account, round) among them, tracked targets) of the tenant.
async fn counts(db: &Db, tenant: TenantId) -> Result<(i64, i64, i64)> {
    let mut conn = db.tenant(tenant).await?;
    let samples: Vec<(uuid::Uuid, uuid::Uuid, i32)> = metric_samples::table
        .filter(metric_samples::tenant_id.eq(tenant.as_uuid()))
        .select((
            metric_samples::post_id,
            metric_samples::account_id,
            metric_samples::round,
        ))
        .load(&mut conn)
        .await?;
    let distinct: std::collections::HashSet<_> = samples.iter().collect();
    let tracked: i64 = tracked_posts::table
        .filter(tracked_posts::tenant_id.eq(tenant.as_uuid()))
        .count()
        .get_result(&mut conn)
        .await?;
    Ok((samples.len() as i64, distinct.len() as i64, tracked))
}

#[tokio::test]
async fn sigterm_mid_work_loses_and_duplicates_nothing() {
    let sandbox = herald_sandbox::start(std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .await
        .unwrap();
    let nats = tokio::task::spawn_blocking(NatsServer::start)
        .await
        .unwrap()
        .unwrap();
    let test_db = postgres().await.unwrap().fresh_db(&TEMPLATE).await.unwrap();
    let db = Db::connect(test_db.url(), SCHEMA, "insights-test", 4)
        .await
        .unwrap();
    let env = env(&nats, test_db.url());
    let client = async_nats::connect(nats.url()).await.unwrap();
    let http = herald_kit::http::client(Duration::from_secs(5)).unwrap();

    let tenant = TenantId::new();
    let mut posts = Vec::with_capacity(POSTS);
    for i in 0..POSTS {
        let status_id = create_status(&http, sandbox.base_url(), &format!("post {i}"))
            .await
            .unwrap();
        posts.push(Envelope::new(
            tenant,
            "req-burst",
            None,
            PostPublished {
                post_id: PostId::new(),
                targets: vec![PublishedTarget {
                    account_id: AccountId::new(),
                    platform: Platform::Mastodon,
                    instance_url: sandbox.base_url().to_owned(),
                    remote_id: status_id,
                    remote_url: None,
                    published_at: Utc::now(),
                }],
                partial: false,
            },
        ));
    }
    let seen_at_stop = Arc::new(Mutex::new((0, 0, 0)));
    let last_seen = Arc::new(Mutex::new((0, 0, 0)));

    let submit = || async {
        for post in &posts {
            publish(&client, post).await?;
        }
        Ok(())
    };
    let started = || async {
        let seen = counts(&db, tenant).await.ok()?;
        *seen_at_stop.lock().unwrap() = seen;
        // Collection under way: the stage with the platform calls and its own transaction.
        (seen.0 > 0).then_some(())
    };
    // Done once every post has a sample; the exact count is asserted below, so a duplicate
    // fails with the numbers.
    let finished = || async {
        let seen = counts(&db, tenant).await.ok()?;
        *last_seen.lock().unwrap() = seen;
        (seen.0 >= POSTS as i64).then_some(())
    };
    if let Err(error) = check_sigterm_mid_work(binary(), &env, submit, started, finished).await {
        let (samples, _, tracked) = *last_seen.lock().unwrap();
        panic!("{error}\nlast seen: {samples} samples, {tracked} tracked targets");
    }

    let all = (POSTS as i64, POSTS as i64, POSTS as i64);
    assert_eq!(
        counts(&db, tenant).await.unwrap(),
        all,
        "(samples, distinct samples, tracked targets)"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        counts(&db, tenant).await.unwrap(),
        all,
        "(samples, distinct samples, tracked targets) a second later"
    );
    let (samples, _, tracked) = *seen_at_stop.lock().unwrap();
    eprintln!(
        "insights: {tracked} of {POSTS} posts tracked, {samples} sampled when SIGTERM was sent"
    );
    sandbox.stop().await.unwrap();
}
