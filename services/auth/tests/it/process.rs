//! The real `herald-auth` binary as a child process: settings checked before anything connects
//! (exit 2 naming the variable), readiness following NATS, and SIGTERM in the middle of
//! registrations losing and duplicating nothing.

use crate::helpers::{MASTER_KEY, PASSWORD, TestAuth};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use futures::TryStreamExt;
use herald_auth::repo::{memberships, tenants, users};
use herald_contracts::rpc::auth::{Register, RegisterRequest, RegisterResponse};
use herald_contracts::rpc::{ErrorCode, RpcError};
use herald_contracts::streams::IDENTITY;
use herald_testkit::{ServiceProcess, check_readiness_follows_nats, check_sigterm_mid_work};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const REGISTRATIONS: usize = 30;
/// Time between two registrations being sent, so SIGTERM lands while some are still coming.
const SPACING: Duration = Duration::from_millis(25);

fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_herald-auth"))
}

fn pairs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// What a deployed auth runs with, Argon2 made cheap.
fn env(test: &TestAuth) -> Vec<(String, String)> {
    pairs(&[
        ("HERALD_NATS_URL", &test.nats.url()),
        ("HERALD_DATABASE_URL", test.db.url()),
        ("HERALD_AUTH_MASTER_KEY", MASTER_KEY),
        ("HERALD_AUTH_ARGON2_MEMORY_KIB", "1024"),
        ("HERALD_LOG", "info"),
        ("HERALD_SHUTDOWN_TIMEOUT_SECS", "10"),
        ("HERALD_OUTBOX_SWEEP_SECS", "1"),
        ("HERALD_DB_POOL_SIZE", "4"),
    ])
}

/// Runs the binary with `env` until it exits by itself; returns its exit code and output.
async fn exit_of(env: &[(String, String)]) -> anyhow::Result<(Option<i32>, String)> {
    let mut process = ServiceProcess::spawn(binary(), env)?;
    let status = process.wait(Duration::from_secs(30)).await?;
    let output = std::fs::read_to_string(&process.log)?;
    Ok((status.code(), output))
}

#[tokio::test]
async fn a_missing_or_invalid_setting_exits_2_naming_it() {
    // Nothing listens on these: the settings are checked before anything connects.
    let database_url = "postgres://auth:db-password-s3cret@127.0.0.1:1/auth";

    let (code, output) = exit_of(&pairs(&[
        ("HERALD_DATABASE_URL", database_url),
        ("HERALD_AUTH_MASTER_KEY", MASTER_KEY),
    ]))
    .await
    .unwrap();
    assert_eq!(code, Some(2), "{output}");
    assert!(output.contains("HERALD_NATS_URL"), "{output}");
    assert!(!output.contains("s3cret"), "{output}");

    let bad_key = "not-base64!!";
    let (code, output) = exit_of(&pairs(&[
        ("HERALD_NATS_URL", "nats://127.0.0.1:1"),
        ("HERALD_DATABASE_URL", database_url),
        ("HERALD_AUTH_MASTER_KEY", bad_key),
    ]))
    .await
    .unwrap();
    assert_eq!(code, Some(2), "{output}");
    assert!(output.contains("HERALD_AUTH_MASTER_KEY"), "{output}");
    assert!(!output.contains(bad_key), "{output}");
    assert!(!output.contains("s3cret"), "{output}");
}

#[tokio::test]
async fn readiness_follows_nats_and_sigterm_exits_cleanly() {
    let mut test = TestAuth::infrastructure().await.unwrap();
    let env = env(&test);
    check_readiness_follows_nats(binary(), &env, &mut test.nats)
        .await
        .unwrap();
}

/// Each registration's outcome and how long the caller waited for it.
type Outcomes = Arc<Mutex<Vec<(Result<RegisterResponse, RpcError>, Duration)>>>;
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// What the database and the IDENTITY stream hold: the (tenant, user) pairs with a membership,
/// the user ids, and how many `identity.user-registered` messages each subject has.
struct Stored {
    members: Vec<(uuid::Uuid, uuid::Uuid)>,
    user_ids: HashSet<uuid::Uuid>,
    tenants: i64,
    messages: HashMap<String, usize>,
}

async fn stored(test: &TestAuth) -> anyhow::Result<Stored> {
    let mut conn = test.conn().await?;
    let members: Vec<(uuid::Uuid, uuid::Uuid)> = memberships::table
        .select((memberships::tenant_id, memberships::user_id))
        .load(&mut conn)
        .await?;
    let user_ids: HashSet<uuid::Uuid> = users::table
        .select(users::id)
        .load::<uuid::Uuid>(&mut conn)
        .await?
        .into_iter()
        .collect();
    let tenants: i64 = tenants::table.count().get_result(&mut conn).await?;
    let stream = test.js().get_stream(IDENTITY).await?;
    let messages: HashMap<String, usize> = stream
        .info_with_subjects("identity.user-registered.>")
        .await?
        .try_collect()
        .await?;
    Ok(Stored {
        members,
        user_ids,
        tenants,
        messages,
    })
}

fn subject(tenant: impl std::fmt::Display, user: impl std::fmt::Display) -> String {
    format!("identity.user-registered.{tenant}.{user}")
}

/// Every registration that was answered Ok is committed and announced once; every committed
/// user is announced once; nothing else was committed. `Err` says what is still missing.
fn check(outcomes: &[Result<RegisterResponse, RpcError>], stored: &Stored) -> Result<(), String> {
    if outcomes.len() < REGISTRATIONS {
        return Err(format!(
            "{} of {REGISTRATIONS} registrations answered",
            outcomes.len()
        ));
    }
    for registered in outcomes.iter().flatten() {
        let user = registered.user_id.as_uuid();
        if !stored.user_ids.contains(&user) {
            return Err(format!("registered user {user} has no row"));
        }
        let wanted = subject(registered.tenant_id, registered.user_id);
        if stored.messages.get(&wanted) != Some(&1) {
            return Err(format!(
                "{wanted}: {:?} messages",
                stored.messages.get(&wanted)
            ));
        }
    }
    if stored.members.len() != stored.user_ids.len() {
        return Err(format!(
            "{} memberships for {} users",
            stored.members.len(),
            stored.user_ids.len()
        ));
    }
    for (tenant, user) in &stored.members {
        let wanted = subject(tenant, user);
        if stored.messages.get(&wanted) != Some(&1) {
            return Err(format!(
                "committed user {user}: {:?} messages on {wanted}",
                stored.messages.get(&wanted)
            ));
        }
    }
    let total: usize = stored.messages.values().sum();
    if total != stored.user_ids.len() {
        return Err(format!(
            "{total} user-registered messages for {} users",
            stored.user_ids.len()
        ));
    }
    Ok(())
}

#[tokio::test]
async fn sigterm_mid_work_loses_and_duplicates_nothing() {
    let test = TestAuth::infrastructure().await.unwrap();
    let env = env(&test);
    let outcomes: Outcomes = Arc::default();
    let last_state = Arc::new(Mutex::new(String::new()));

    let submit = || {
        let client = test.client.clone();
        let outcomes = outcomes.clone();
        async move {
            // The registrations go out one every SPACING, each waiting on its own, so the
            // first process is stopped with some in flight and some not yet sent.
            tokio::spawn(async move {
                for i in 0..REGISTRATIONS {
                    let client = client.clone();
                    let outcomes = outcomes.clone();
                    tokio::spawn(async move {
                        let sent = std::time::Instant::now();
                        let outcome = herald_kit::rpc::call::<Register>(
                            &client,
                            &format!("req-register-{i}"),
                            None,
                            RegisterRequest {
                                tenant_name: format!("Tenant {i}"),
                                email: format!("owner-{i}@example.com"),
                                password: PASSWORD.into(),
                            },
                            CALL_TIMEOUT,
                        )
                        .await;
                        outcomes.lock().unwrap().push((outcome, sent.elapsed()));
                    });
                    tokio::time::sleep(SPACING).await;
                }
            });
            Ok(())
        }
    };
    let started = || async {
        let mut conn = test.conn().await.ok()?;
        let tenants: i64 = tenants::table.count().get_result(&mut conn).await.ok()?;
        (tenants > 0).then_some(())
    };
    let finished = || async {
        let stored = stored(&test).await.ok()?;
        let outcomes: Vec<_> = outcomes
            .lock()
            .unwrap()
            .iter()
            .map(|o| o.0.clone())
            .collect();
        match check(&outcomes, &stored) {
            Ok(()) => Some(()),
            Err(missing) => {
                *last_state.lock().unwrap() = missing;
                None
            }
        }
    };
    let result = check_sigterm_mid_work(binary(), &env, submit, started, finished).await;
    if let Err(error) = result {
        panic!("{error}\nlast check: {}", last_state.lock().unwrap());
    }

    let timed = outcomes.lock().unwrap().clone();
    let outcomes: Vec<_> = timed.iter().map(|o| o.0.clone()).collect();
    let ok = outcomes.iter().filter(|o| o.is_ok()).count();
    // Failed only after the caller's whole timeout: delivered to the stopping process and never
    // answered (its endpoint stops reading before it unsubscribes); failing fast means nobody
    // was listening. Reported, not asserted, while the kit keeps that gap.
    let unanswered = timed
        .iter()
        .filter(|(outcome, waited)| outcome.is_err() && *waited >= CALL_TIMEOUT)
        .count();
    for outcome in &outcomes {
        if let Err(error) = outcome {
            assert_eq!(
                error.code,
                ErrorCode::Unavailable,
                "a registration failed for another reason than the stop: {error:?}"
            );
        }
    }
    assert!(ok > 0, "no registration succeeded");
    let stored = stored(&test).await.unwrap();
    // A registration committed by the stopping process was also answered: none was left
    // committed behind an error the client could only retry into a conflict.
    assert_eq!(stored.user_ids.len(), ok, "{outcomes:?}");
    assert_eq!(stored.tenants, ok as i64);
    eprintln!(
        "auth: {ok} of {REGISTRATIONS} registrations answered Ok, {} unavailable during the stop \
         ({unanswered} of them after the full {CALL_TIMEOUT:?} timeout)",
        REGISTRATIONS - ok
    );
}
