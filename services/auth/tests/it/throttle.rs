//! Login throttling with two auth replicas on one database and one nats-server: the counters
//! are shared, so failures answered by either replica count towards one lock.

// Helpers outside #[test] functions unwrap too; clippy.toml only covers the latter.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::helpers::{MASTER_KEY, PASSWORD, TIMEOUT, TestAuth, count};
use futures::StreamExt;
use herald_auth::start;
use herald_contracts::rpc::auth::{Login, LoginRequest, TokenResponse};
use herald_contracts::rpc::{ErrorCode, RpcError};
use herald_kit::async_nats;
use herald_testkit::{Running, service_env, wait_for};
use std::time::Duration;

/// The message every refused (locked) login gets.
const LOCKED: &str = "too many failed logins; try again later";

/// `TestAuth` with two replicas, throttled by `settings` (`HERALD_AUTH_LOGIN_*` suffixes).
pub async fn two_replicas(settings: &[(&str, &str)]) -> TestAuth {
    let mut test = TestAuth::infrastructure().await.unwrap();
    let mut extra: Vec<(String, String)> = vec![
        ("HERALD_AUTH_MASTER_KEY".into(), MASTER_KEY.into()),
        ("HERALD_AUTH_ARGON2_MEMORY_KIB".into(), "1024".into()),
        ("HERALD_AUTH_ARGON2_ITERATIONS".into(), "1".into()),
        ("HERALD_DB_POOL_SIZE".into(), "4".into()),
    ];
    for (name, value) in settings {
        extra.push((format!("HERALD_AUTH_LOGIN_{name}"), (*value).into()));
    }
    let pairs: Vec<(&str, &str)> = extra
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    for _ in 0..2 {
        let env = service_env(&test.nats.url(), Some(test.db.url()), &pairs);
        test.apps.push(Running::spawn(start(env).await.unwrap()));
    }
    test
}

/// A login as the gateway sends it, from `ip`.
pub async fn login_from(
    client: &async_nats::Client,
    email: &str,
    password: &str,
    ip: Option<&str>,
) -> Result<TokenResponse, RpcError> {
    herald_kit::rpc::call::<Login>(
        client,
        &format!("req-{}", uuid::Uuid::new_v4().simple()),
        None,
        LoginRequest {
            email: email.into(),
            password: password.into(),
            client_ip: ip.map(str::to_owned),
            tenant_id: None,
        },
        TIMEOUT,
    )
    .await
}

fn assert_locked(error: &RpcError, lock_secs: u64) {
    assert_eq!(error.code, ErrorCode::RateLimited, "{error:?}");
    assert_eq!(error.message, LOCKED);
    let retry_after = error
        .retry_after_secs
        .expect("retry_after_secs on a lockout");
    assert!(
        (1..=lock_secs).contains(&retry_after),
        "retry after {retry_after}s, lock {lock_secs}s"
    );
}

/// How many `rpc.auth.login` requests each auth instance answered (`$SRV.STATS`).
async fn login_requests_per_instance(client: &async_nats::Client) -> Vec<u64> {
    let inbox = client.new_inbox();
    let mut replies = client.subscribe(inbox.clone()).await.unwrap();
    client
        .publish_with_reply("$SRV.STATS.herald-auth", inbox, "".into())
        .await
        .unwrap();
    let mut counts = Vec::new();
    while counts.len() < 2 {
        let Ok(Some(reply)) = tokio::time::timeout(Duration::from_secs(5), replies.next()).await
        else {
            break;
        };
        let stats: serde_json::Value = serde_json::from_slice(&reply.payload).unwrap();
        let login = stats["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["subject"] == "rpc.auth.login")
            .expect("login endpoint in the stats");
        counts.push(login["num_requests"].as_u64().unwrap());
    }
    counts
}

#[tokio::test]
async fn failures_on_both_replicas_lock_the_account_even_for_the_right_password() {
    let auth = two_replicas(&[("MAX_FAILURES", "3"), ("LOCK_SECS", "60")]).await;
    auth.register("Acme", "ada@example.com", PASSWORD)
        .await
        .unwrap();

    // 20 wrong guesses at once, answered by both replicas: exactly 3 are tried, the rest are
    // refused, because attempts are counted on the shared row before a password is verified.
    let guesses = (0..20).map(|n| {
        let client = auth.client.clone();
        async move {
            login_from(
                &client,
                "ada@example.com",
                &format!("guess number {n}"),
                None,
            )
            .await
        }
    });
    let results = futures::future::join_all(guesses).await;
    let tried = results
        .iter()
        .filter(|r| matches!(r, Err(e) if e.code == ErrorCode::Unauthenticated))
        .count();
    let refused: Vec<&RpcError> = results
        .iter()
        .filter_map(|r| r.as_ref().err())
        .filter(|e| e.code == ErrorCode::RateLimited)
        .collect();
    assert_eq!((tried, refused.len()), (3, 17), "{results:?}");
    for error in refused {
        assert_locked(error, 60);
    }
    let served = login_requests_per_instance(&auth.client).await;
    assert_eq!(served.len(), 2, "two replicas answer");
    assert!(
        served.iter().all(|n| *n > 0),
        "both replicas served logins: {served:?}"
    );

    // The right password does not open a locked account, on either replica.
    for _ in 0..4 {
        let error = login_from(&auth.client, "ada@example.com", PASSWORD, None)
            .await
            .unwrap_err();
        assert_locked(&error, 60);
    }
    let mut conn = auth.conn().await.unwrap();
    assert_eq!(count(&mut conn, "refresh_tokens").await.unwrap(), 0);

    // An email nobody registered locks the same way, with the same answer.
    for _ in 0..3 {
        let error = login_from(&auth.client, "nobody@example.com", PASSWORD, None)
            .await
            .unwrap_err();
        assert_eq!(error.code, ErrorCode::Unauthenticated);
    }
    let error = login_from(&auth.client, "nobody@example.com", PASSWORD, None)
        .await
        .unwrap_err();
    assert_locked(&error, 60);
    // Keys are hashes: no email is stored for the guesses.
    let emails: i64 = {
        use diesel_async::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        diesel::sql_query("SELECT count(*) AS n FROM throttle_counters WHERE key LIKE '%@%'")
            .get_result::<N>(&mut conn)
            .await
            .unwrap()
            .n
    };
    assert_eq!(emails, 0);
    drop(conn);
    auth.stop().await;
}

#[tokio::test]
async fn an_ip_is_locked_across_emails() {
    let auth = two_replicas(&[
        ("MAX_FAILURES", "3"),
        ("IP_MAX_FAILURES", "4"),
        ("LOCK_SECS", "60"),
    ])
    .await;
    auth.register("Acme", "ada@example.com", PASSWORD)
        .await
        .unwrap();
    let attacker = Some("203.0.113.9");
    for n in 0..4 {
        let error = login_from(
            &auth.client,
            &format!("user{n}@example.com"),
            "guess",
            attacker,
        )
        .await
        .unwrap_err();
        assert_eq!(error.code, ErrorCode::Unauthenticated, "attempt {n}");
    }
    // A fifth email from that address is refused, even a registered one with its password.
    let error = login_from(&auth.client, "ada@example.com", PASSWORD, attacker)
        .await
        .unwrap_err();
    assert_locked(&error, 60);
    // IPv6 addresses in one /64 share a key; in another /64 they do not.
    for n in 0..4 {
        let ip = format!("2001:db8:7:7::{n}");
        let error = login_from(
            &auth.client,
            &format!("v6-{n}@example.com"),
            "guess",
            Some(&ip),
        )
        .await
        .unwrap_err();
        assert_eq!(error.code, ErrorCode::Unauthenticated);
    }
    let error = login_from(
        &auth.client,
        "ada@example.com",
        PASSWORD,
        Some("2001:db8:7:7::ff"),
    )
    .await
    .unwrap_err();
    assert_locked(&error, 60);
    // The account itself is not locked: from another address the owner gets in.
    login_from(
        &auth.client,
        "ada@example.com",
        PASSWORD,
        Some("198.51.100.1"),
    )
    .await
    .unwrap();
    login_from(
        &auth.client,
        "ada@example.com",
        PASSWORD,
        Some("2001:db8:7:8::1"),
    )
    .await
    .unwrap();
    // A client IP that is not an address is refused (only the gateway sets it).
    let error = login_from(&auth.client, "ada@example.com", PASSWORD, Some("not-an-ip"))
        .await
        .unwrap_err();
    assert_eq!(error.code, ErrorCode::InvalidInput);
    auth.stop().await;
}

#[tokio::test]
async fn success_resets_the_account_and_the_lock_expires() {
    let auth = two_replicas(&[
        ("MAX_FAILURES", "3"),
        ("LOCK_SECS", "1"),
        ("LOCK_MAX_SECS", "2"),
    ])
    .await;
    auth.register("Acme", "ada@example.com", PASSWORD)
        .await
        .unwrap();
    let ip = Some("192.0.2.44");
    let wrong = |client: async_nats::Client| async move {
        login_from(&client, "ada@example.com", "wrong password!", ip)
            .await
            .unwrap_err()
    };
    // Two failures, a success, two failures: the success started the count over.
    for _ in 0..2 {
        assert_eq!(
            wrong(auth.client.clone()).await.code,
            ErrorCode::Unauthenticated
        );
    }
    login_from(&auth.client, "ada@example.com", PASSWORD, ip)
        .await
        .unwrap();
    for _ in 0..3 {
        assert_eq!(
            wrong(auth.client.clone()).await.code,
            ErrorCode::Unauthenticated
        );
    }
    // The third failure since the success locked it.
    let error = login_from(&auth.client, "ada@example.com", PASSWORD, ip)
        .await
        .unwrap_err();
    assert_locked(&error, 1);

    // The lock ends by itself: the right password works again within a few seconds.
    wait_for("the lock to expire", Duration::from_secs(10), || {
        let client = auth.client.clone();
        async move {
            login_from(&client, "ada@example.com", PASSWORD, ip)
                .await
                .ok()
        }
    })
    .await
    .unwrap();
    auth.stop().await;
}

#[tokio::test]
async fn concurrent_logins_with_the_right_password_never_lock() {
    let auth = two_replicas(&[("MAX_FAILURES", "3"), ("LOCK_SECS", "60")]).await;
    auth.register("Acme", "ada@example.com", PASSWORD)
        .await
        .unwrap();
    // More at once than the allowance: the ones over it wait for the others to be resolved
    // (as successes) instead of being refused.
    let logins = (0..12).map(|_| {
        let client = auth.client.clone();
        async move { login_from(&client, "ada@example.com", PASSWORD, Some("192.0.2.8")).await }
    });
    for result in futures::future::join_all(logins).await {
        result.unwrap();
    }
    let mut conn = auth.conn().await.unwrap();
    assert_eq!(count(&mut conn, "refresh_tokens").await.unwrap(), 12);
    drop(conn);
    auth.stop().await;
}
