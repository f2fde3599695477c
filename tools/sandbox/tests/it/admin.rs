use serde_json::{Value, json};

use crate::helpers::spawn;

#[tokio::test]
async fn reset_clears_posts_and_faults() {
    let app = spawn().await;
    let created = app.create("token-a", "before reset", Some("k")).await;
    app.set_faults(json!({ "latency_ms": 1, "error_rate": 0.5 }))
        .await;

    let response = app
        .client
        .post(app.url("/__sandbox/reset"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);

    assert!(app.ledger("").await.is_empty());
    let path = format!("/api/v1/statuses/{}", created["id"].as_str().unwrap());
    assert_eq!(app.get(&path, None).await.status(), 404);
    let faults: Value = app
        .get("/__sandbox/faults/mastodon", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(faults["error_rate"], 0.0);
    // The key is forgotten too: the same key now creates a new post with a new id.
    let again = app.create("token-a", "after reset", Some("k")).await;
    assert_ne!(again["id"], created["id"]);
    app.stop().await;
}

#[tokio::test]
async fn faults_are_validated_and_readable() {
    let app = spawn().await;
    let stored = app
        .set_faults(json!({ "latency_ms": 5, "drop_after_commit_rate": 0.25 }))
        .await;
    assert_eq!(stored.status(), 200);
    let faults: Value = app
        .get("/__sandbox/faults/mastodon", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        faults,
        json!({ "latency_ms": 5, "error_rate": 0.0, "rate_limit_rate": 0.0, "drop_after_commit_rate": 0.25 })
    );

    for bad in [
        json!({ "error_rate": 1.5 }),
        json!({ "eror_rate": 0.1 }),
        json!({ "error_rate": "x" }),
    ] {
        let response = app.set_faults(bad).await;
        assert_eq!(response.status(), 400);
        let body: Value = response.json().await.unwrap();
        assert!(body["error"].is_string());
    }
    let unknown = app
        .client
        .put(app.url("/__sandbox/faults/myspace"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    app.stop().await;
}

#[tokio::test]
async fn ledger_filters_by_platform_and_rejects_unknown_ones() {
    let app = spawn().await;
    app.create("token-a", "one", None).await;
    assert_eq!(app.ledger("?platform=mastodon").await.len(), 1);
    assert_eq!(app.ledger("?account_id=nobody").await.len(), 0);
    let unknown = app.get("/__sandbox/ledger?platform=myspace", None).await;
    assert_eq!(unknown.status(), 400);
    app.stop().await;
}
