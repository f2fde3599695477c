use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::helpers::{header, spawn};

#[tokio::test]
async fn error_rate_one_answers_503_and_records_nothing() {
    let app = spawn().await;
    assert_eq!(
        app.set_faults(json!({ "error_rate": 1.0 })).await.status(),
        200
    );
    for _ in 0..3 {
        let response = app
            .post_status("token-a", json!({ "status": "x" }), Some("k"))
            .await;
        assert_eq!(response.status(), 503);
    }
    assert!(app.ledger("").await.is_empty());

    app.set_faults(json!({})).await;
    let after = app
        .post_status("token-a", json!({ "status": "x" }), Some("k"))
        .await;
    assert_eq!(after.status(), 200, "faults back to zero");
    app.stop().await;
}

#[tokio::test]
async fn rate_limit_rate_one_answers_429_with_headers() {
    let app = spawn().await;
    app.set_faults(json!({ "rate_limit_rate": 1.0 })).await;
    let response = app
        .post_status("token-a", json!({ "status": "x" }), None)
        .await;
    assert_eq!(response.status(), 429);
    assert_eq!(header(&response, "x-ratelimit-limit"), "300");
    assert_eq!(header(&response, "x-ratelimit-remaining"), "0");
    let reset = DateTime::parse_from_rfc3339(header(&response, "x-ratelimit-reset")).unwrap();
    assert!(reset > Utc::now());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({ "error": "Too many requests" }));
    assert!(app.ledger("").await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn drop_after_commit_records_the_post_but_the_client_sees_an_error() {
    let app = spawn().await;
    app.set_faults(json!({ "drop_after_commit_rate": 1.0 }))
        .await;
    let error = app
        .client
        .post(app.url("/api/v1/statuses"))
        .bearer_auth("token-a")
        .header("Idempotency-Key", "dropped")
        .json(&json!({ "status": "did it post?" }))
        .send()
        .await
        .unwrap_err();
    assert!(
        !error.is_timeout(),
        "the connection must be cut, not left hanging: {error}"
    );

    let ledger = app.ledger("").await;
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0]["text"], "did it post?");

    // The adapter's retry with the same key gets the committed post, not a second one.
    app.set_faults(json!({})).await;
    let retried = app.create("token-a", "did it post?", Some("dropped")).await;
    assert_eq!(retried["id"], ledger[0]["status_id"]);
    assert_eq!(app.ledger("").await.len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn latency_delays_the_answer() {
    let app = spawn().await;
    app.set_faults(json!({ "latency_ms": 300 })).await;
    let started = Instant::now();
    let response = app
        .post_status("token-a", json!({ "status": "slow" }), None)
        .await;
    assert_eq!(response.status(), 200);
    // A lower bound only: the sleep must have happened; no upper bound, machines vary.
    assert!(started.elapsed() >= Duration::from_millis(300));
    app.stop().await;
}

#[tokio::test]
async fn faults_apply_to_the_publishing_endpoint_only() {
    let app = spawn().await;
    let created = app.create("token-a", "before", None).await;
    app.set_faults(json!({ "error_rate": 1.0, "rate_limit_rate": 1.0 }))
        .await;
    let path = format!("/api/v1/statuses/{}", created["id"].as_str().unwrap());
    assert_eq!(app.get(&path, Some("token-a")).await.status(), 200);
    app.stop().await;
}
