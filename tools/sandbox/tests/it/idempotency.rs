use std::sync::Arc;

use serde_json::{Value, json};

use crate::helpers::spawn;

#[tokio::test]
async fn the_same_key_twice_returns_the_original_status() {
    let app = spawn().await;
    let first = app.create("token-a", "once", Some("key-1")).await;
    // A retry may even carry a different body: the key alone decides, as in Mastodon.
    let second = app.create("token-a", "once, edited", Some("key-1")).await;
    assert_eq!(first["id"], second["id"]);
    assert_eq!(second["content"], "<p>once</p>");

    let ledger = app.ledger("").await;
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0]["idempotency_key"], "key-1");
    assert_eq!(ledger[0]["status_id"], first["id"]);
    app.stop().await;
}

#[tokio::test]
async fn concurrent_requests_with_one_key_create_one_post() {
    let app = Arc::new(spawn().await);
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let app = Arc::clone(&app);
            tokio::spawn(async move {
                let response = app
                    .post_status(
                        "token-a",
                        json!({ "status": format!("race {i}") }),
                        Some("race-key"),
                    )
                    .await;
                assert_eq!(response.status(), 200);
                response.json::<Value>().await.unwrap()["id"].clone()
            })
        })
        .collect();
    let mut ids = Vec::new();
    for task in tasks {
        ids.push(task.await.unwrap());
    }
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "all got one id: {ids:?}"
    );
    let ledger = app.ledger("").await;
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0]["status_id"], ids[0]);
    if let Ok(app) = Arc::try_unwrap(app) {
        app.stop().await;
    }
}

#[tokio::test]
async fn keys_are_per_account() {
    let app = spawn().await;
    let a = app.create("token-a", "from a", Some("shared-key")).await;
    let b = app.create("token-b", "from b", Some("shared-key")).await;
    assert_ne!(a["id"], b["id"]);
    assert_ne!(a["account"]["id"], b["account"]["id"]);
    assert_eq!(app.ledger("").await.len(), 2);

    let only_b = app
        .ledger(&format!(
            "?platform=mastodon&account_id={}",
            b["account"]["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(only_b.len(), 1);
    assert_eq!(only_b[0]["text"], "from b");
    app.stop().await;
}

#[tokio::test]
async fn different_keys_and_no_key_each_create() {
    let app = spawn().await;
    app.create("token-a", "same text", Some("k1")).await;
    app.create("token-a", "same text", Some("k2")).await;
    app.create("token-a", "same text", None).await;
    app.create("token-a", "same text", None).await;
    assert_eq!(app.ledger("").await.len(), 4);
    app.stop().await;
}
