//! Refusals through the real services map to the right status and the uniform error body,
//! and one tenant never sees another's data.

use crate::fleet::Fleet;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;

struct Reply {
    status: StatusCode,
    request_id: String,
    body: Value,
}

async fn call(
    fleet: &Fleet,
    http: &reqwest::Client,
    token: Option<&str>,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> anyhow::Result<Reply> {
    let mut request = http.request(method, fleet.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await?;
    let status = response.status();
    let request_id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = response.json::<Value>().await.unwrap_or(Value::Null);
    Ok(Reply {
        status,
        request_id,
        body,
    })
}

/// The uniform error body, carrying the response's request id.
fn assert_error(reply: &Reply, status: StatusCode, code: &str) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(reply.body["error"]["code"], json!(code), "{}", reply.body);
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    assert_eq!(reply.body["error"]["request_id"], json!(reply.request_id));
}

async fn tenant(fleet: &Fleet, http: &reqwest::Client, email: &str) -> anyhow::Result<String> {
    let password = "correct horse battery";
    let registered = call(
        fleet,
        http,
        None,
        Method::POST,
        "/v1/auth/register",
        Some(json!({"tenant_name": email, "email": email, "password": password})),
    )
    .await?;
    assert_eq!(
        registered.status,
        StatusCode::CREATED,
        "{}",
        registered.body
    );
    let login = call(
        fleet,
        http,
        None,
        Method::POST,
        "/v1/auth/login",
        Some(json!({"email": email, "password": password})),
    )
    .await?;
    Ok(login.body["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

#[tokio::test]
async fn refusals_from_the_real_services_map_to_statuses_and_tenants_stay_apart()
-> anyhow::Result<()> {
    let fleet = Fleet::start().await?;
    let http = herald_kit::http::client(Duration::from_secs(20))?;
    let alice = tenant(&fleet, &http, "alice@a.test").await?;
    let bob = tenant(&fleet, &http, "bob@b.test").await?;

    let again = call(
        &fleet,
        &http,
        None,
        Method::POST,
        "/v1/auth/register",
        Some(json!({"tenant_name": "A2", "email": "ALICE@a.test", "password": "another good one"})),
    )
    .await?;
    assert_error(&again, StatusCode::CONFLICT, "conflict");
    let wrong = call(
        &fleet,
        &http,
        None,
        Method::POST,
        "/v1/auth/login",
        Some(json!({"email": "alice@a.test", "password": "not the password"})),
    )
    .await?;
    assert_error(&wrong, StatusCode::UNAUTHORIZED, "unauthenticated");
    let weak = call(
        &fleet,
        &http,
        None,
        Method::POST,
        "/v1/auth/register",
        Some(json!({"tenant_name": "C", "email": "c@c.test", "password": "short"})),
    )
    .await?;
    assert_error(&weak, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");

    let account = call(&fleet, &http, Some(&alice), Method::POST, "/v1/accounts", Some(json!({"platform": "mastodon", "instance_url": fleet.sandbox.base_url(), "access_token": "alice-token"}))).await?;
    assert_eq!(account.status, StatusCode::CREATED, "{}", account.body);
    let at = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let empty = call(
        &fleet,
        &http,
        Some(&alice),
        Method::POST,
        "/v1/posts",
        Some(json!({"text": "  ", "scheduled_at": at, "account_ids": [account.body["id"]]})),
    )
    .await?;
    assert_error(&empty, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    let post = call(
        &fleet,
        &http,
        Some(&alice),
        Method::POST,
        "/v1/posts",
        Some(json!({"text": "alice's", "scheduled_at": at, "account_ids": [account.body["id"]]})),
    )
    .await?;
    assert_eq!(post.status, StatusCode::CREATED, "{}", post.body);
    let post_id = post.body["id"].as_str().unwrap_or_default().to_owned();

    // Bob can neither read Alice's post nor post to her account: not found, never data.
    let peek = call(
        &fleet,
        &http,
        Some(&bob),
        Method::GET,
        &format!("/v1/posts/{post_id}"),
        None,
    )
    .await?;
    assert_error(&peek, StatusCode::NOT_FOUND, "not_found");
    let borrow = call(
        &fleet,
        &http,
        Some(&bob),
        Method::POST,
        "/v1/posts",
        Some(json!({"text": "bob's", "scheduled_at": at, "account_ids": [account.body["id"]]})),
    )
    .await?;
    assert_error(&borrow, StatusCode::NOT_FOUND, "not_found");
    let metrics = call(
        &fleet,
        &http,
        Some(&bob),
        Method::GET,
        &format!("/v1/posts/{post_id}/metrics"),
        None,
    )
    .await?;
    assert!(
        metrics.body["samples"]
            .as_array()
            .is_none_or(|s| s.is_empty()),
        "{}",
        metrics.body
    );
    let missing = call(
        &fleet,
        &http,
        Some(&alice),
        Method::GET,
        &format!("/v1/posts/{}", uuid_like()),
        None,
    )
    .await?;
    assert_error(&missing, StatusCode::NOT_FOUND, "not_found");
    let mine = call(
        &fleet,
        &http,
        Some(&alice),
        Method::GET,
        &format!("/v1/posts/{post_id}"),
        None,
    )
    .await?;
    assert_eq!(mine.status, StatusCode::OK);
    assert_eq!(mine.body["text"], json!("alice's"));

    let too_big = call(
        &fleet,
        &http,
        Some(&alice),
        Method::POST,
        "/v1/renders",
        Some(json!({"design": {"width": 5000, "height": 10, "background": "#ffffff"}})),
    )
    .await?;
    assert_error(&too_big, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    assert!(
        too_big.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("width"))
    );
    fleet.stop().await
}

fn uuid_like() -> String {
    "01a20000-0000-7000-8000-000000000000".to_owned()
}
