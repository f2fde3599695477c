//! Login lockout through the public API with two gateway replicas in front of two auth
//! replicas: failures through either gateway count towards one lock, a locked login is 429
//! with `Retry-After` and the uniform error body, and the client IP auth throttles on is the
//! one the gateway saw, never one the client wrote into the body.

// Helpers outside #[test] functions unwrap too; clippy.toml only covers the latter.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::fleet::FLEET_TEMPLATE;
use base64::Engine;
use herald_testkit::{NatsServer, Running, postgres, service_env};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";

struct Gateway {
    base: String,
}

async fn post_login(
    http: &reqwest::Client,
    gateway: &Gateway,
    body: Value,
) -> anyhow::Result<reqwest::Response> {
    Ok(http
        .post(format!("{}/v1/auth/login", gateway.base))
        .json(&body)
        .send()
        .await?)
}

/// A 429 from auth's lockout: `Retry-After` in whole seconds, the uniform body.
async fn assert_locked(response: reqwest::Response, lock_secs: u64) {
    assert_eq!(response.status().as_u16(), 429);
    let retry_after: u64 = response
        .headers()
        .get("retry-after")
        .expect("Retry-After on a lockout")
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After in seconds");
    assert!((1..=lock_secs).contains(&retry_after), "{retry_after}");
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({"error": {
            "code": "rate_limited",
            "message": "too many failed logins; try again later",
            "request_id": request_id,
        }})
    );
}

#[tokio::test]
async fn lockout_holds_across_two_gateways_and_two_auth_replicas() {
    let nats = NatsServer::start().unwrap();
    let db = postgres()
        .await
        .unwrap()
        .fresh_db(&FLEET_TEMPLATE)
        .await
        .unwrap();
    let master_key = base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>());
    let env = service_env(
        &nats.url(),
        Some(db.url()),
        &[
            ("HERALD_AUTH_MASTER_KEY", &master_key),
            ("HERALD_AUTH_ARGON2_MEMORY_KIB", "1024"),
            ("HERALD_AUTH_LOGIN_MAX_FAILURES", "3"),
            ("HERALD_AUTH_LOGIN_IP_MAX_FAILURES", "6"),
            ("HERALD_AUTH_LOGIN_LOCK_SECS", "60"),
            ("HERALD_GATEWAY_HTTP_ADDR", "127.0.0.1:0"),
            // The gateway's own request rate limits are another feature; off here, so every
            // 429 below is auth's lockout.
            ("HERALD_GATEWAY_RATE_AUTH_IP", "0"),
            ("HERALD_GATEWAY_RATE_IP", "0"),
        ],
    );
    let mut running = Vec::new();
    for _ in 0..2 {
        running.push(Running::spawn(
            herald_auth::start(env.clone()).await.unwrap(),
        ));
    }
    let mut gateways = Vec::new();
    for _ in 0..2 {
        let gateway = herald_gateway::start_with_addr(env.clone()).await.unwrap();
        gateways.push(Gateway {
            base: format!("http://{}", gateway.http_addr),
        });
        running.push(Running::spawn(gateway.app));
    }
    let http = herald_kit::http::client(std::time::Duration::from_secs(20)).unwrap();
    let registered = http
        .post(format!("{}/v1/auth/register", gateways[0].base))
        .json(&json!({"tenant_name": "Acme", "email": "ada@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status().as_u16(), 201);

    // Three failures through alternating gateways lock the account.
    for n in 0..3 {
        let response = post_login(
            &http,
            &gateways[n % 2],
            json!({"email": "ada@example.com", "password": "wrong password"}),
        )
        .await
        .unwrap();
        assert_eq!(response.status().as_u16(), 401, "failure {n}");
    }
    for gateway in &gateways {
        let response = post_login(
            &http,
            gateway,
            json!({"email": "ada@example.com", "password": PASSWORD}),
        )
        .await
        .unwrap();
        assert_locked(response, 60).await;
    }

    // Three more failures for other emails, each claiming another `client_ip` in the body:
    // the gateway overwrites it with the address it saw, so all six failures count for one IP,
    // and the next login from it is refused whatever the email.
    for n in 0..3 {
        let response = post_login(
            &http,
            &gateways[n % 2],
            json!({
                "email": format!("someone{n}@example.com"),
                "password": "guess",
                "client_ip": format!("198.51.100.{n}"),
            }),
        )
        .await
        .unwrap();
        assert_eq!(response.status().as_u16(), 401, "failure {n}");
    }
    let response = post_login(
        &http,
        &gateways[1],
        json!({"email": "fresh@example.com", "password": "guess", "client_ip": "192.0.2.1"}),
    )
    .await
    .unwrap();
    assert_locked(response, 60).await;

    for service in running.into_iter().rev() {
        service.stop().await.unwrap();
    }
}
