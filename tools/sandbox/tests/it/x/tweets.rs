//! users/me, tweet creation, the duplicate-content refusal and the injected faults.

use chrono::Utc;
use herald_sandbox::{Faults, Platform};
use serde_json::{Value, json};

use super::{get, me, tweet, url};
use crate::helpers::{header, spawn};

#[tokio::test]
async fn users_me_maps_tokens_to_stable_users() {
    let app = spawn().await;
    let response = get(&app, "token-a", "/2/users/me", &[]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "x-rate-limit-limit"), "75");
    assert_eq!(header(&response, "x-rate-limit-remaining"), "74");
    let body: Value = response.json().await.unwrap();
    let id = body["data"]["id"].as_str().unwrap();
    assert!(id.parse::<u64>().is_ok(), "{id}");
    assert!(
        body["data"]["username"]
            .as_str()
            .unwrap()
            .starts_with("user_")
    );
    assert!(body["data"]["name"].is_string());
    assert_eq!(me(&app, "token-a").await["id"], id);
    assert_ne!(me(&app, "token-b").await["id"], id);

    let expired = get(&app, "expired-token-a", "/2/users/me", &[]).await;
    assert_eq!(expired.status(), 401);
    assert_eq!(header(&expired, "content-type"), "application/problem+json");
    let body: Value = expired.json().await.unwrap();
    assert_eq!(
        body,
        json!({ "title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized" })
    );
    let no_scope = get(&app, "noscope-token-a", "/2/users/me", &[]).await;
    assert_eq!(no_scope.status(), 403);
    let body: Value = no_scope.json().await.unwrap();
    assert_eq!(body["title"], "Forbidden");
    app.stop().await;
}

#[tokio::test]
async fn a_tweet_is_created_once_and_duplicate_text_is_refused() {
    let app = spawn().await;
    let user_id = me(&app, "token-a").await["id"].as_str().unwrap().to_owned();
    let response = tweet(&app, "token-a", "hello x & friends").await;
    assert_eq!(response.status(), 201);
    assert_eq!(header(&response, "x-rate-limit-limit"), "100");
    assert_eq!(header(&response, "x-rate-limit-remaining"), "99");
    let reset: i64 = header(&response, "x-rate-limit-reset").parse().unwrap();
    assert!(reset > Utc::now().timestamp());
    let body: Value = response.json().await.unwrap();
    let id = body["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(body["data"]["text"], "hello x &amp; friends");
    assert_eq!(body["data"]["edit_history_tweet_ids"], json!([id]));

    let duplicate = tweet(&app, "token-a", "hello x & friends").await;
    assert_eq!(duplicate.status(), 403);
    let body: Value = duplicate.json().await.unwrap();
    assert_eq!(
        body,
        json!({
            "detail": "You are not allowed to create a Tweet with duplicate content.",
            "type": "about:blank",
            "title": "Forbidden",
            "status": 403,
        })
    );
    // Another user may post the same text; a token without read scopes may still post.
    assert_eq!(
        tweet(&app, "token-b", "hello x & friends").await.status(),
        201
    );
    assert_eq!(
        tweet(&app, "noscope-token-a", "written without read")
            .await
            .status(),
        201
    );

    let ledger = app.ledger("?platform=x").await;
    assert_eq!(ledger.len(), 3);
    assert_eq!(ledger[0]["account_id"], user_id.as_str());
    assert_eq!(ledger[0]["status_id"], id.as_str());
    assert_eq!(ledger[0]["text"], "hello x & friends");
    assert_eq!(ledger[0]["idempotency_key"], Value::Null);
    app.stop().await;
}

#[tokio::test]
async fn invalid_tweets_are_refused_without_a_trace() {
    let app = spawn().await;
    for body in [json!({ "text": "" }), json!({ "text": "y".repeat(281) })] {
        let response = app
            .client
            .post(url(&app, "/2/tweets"))
            .bearer_auth("token-a")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["title"], "Invalid Request");
        assert!(body["errors"][0]["message"].is_string());
    }
    let no_token = app
        .client
        .post(url(&app, "/2/tweets"))
        .json(&json!({ "text": "anonymous" }))
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status(), 401);
    assert!(app.ledger("").await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn faults_apply_to_tweet_creation_only() {
    let app = spawn().await;
    let user_id = me(&app, "token-a").await["id"].as_str().unwrap().to_owned();
    let set = |faults: Faults| app.handle.set_faults(Platform::X, faults).unwrap();

    set(Faults {
        error_rate: 1.0,
        ..Faults::default()
    });
    let response = tweet(&app, "token-a", "faulty").await;
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["title"], "Service Unavailable");

    set(Faults {
        rate_limit_rate: 1.0,
        ..Faults::default()
    });
    let response = tweet(&app, "token-a", "faulty").await;
    assert_eq!(response.status(), 429);
    assert_eq!(header(&response, "x-rate-limit-remaining"), "0");
    assert_eq!(header(&response, "x-rate-limit-limit"), "100");
    let reset: i64 = header(&response, "x-rate-limit-reset").parse().unwrap();
    assert!(reset > Utc::now().timestamp());
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({ "title": "Too Many Requests", "type": "about:blank", "status": 429, "detail": "Too Many Requests" })
    );
    assert!(app.ledger("").await.is_empty());

    set(Faults {
        drop_after_commit_rate: 1.0,
        ..Faults::default()
    });
    let error = app
        .client
        .post(url(&app, "/2/tweets"))
        .bearer_auth("token-a")
        .json(&json!({ "text": "did it post?" }))
        .send()
        .await
        .unwrap_err();
    assert!(!error.is_timeout(), "the connection must be cut: {error}");
    let ledger = app.ledger("").await;
    assert_eq!(ledger.len(), 1);

    // Reads are not faulted: the timeline shows the committed tweet; a blind retry is refused.
    set(Faults {
        error_rate: 1.0,
        ..Faults::default()
    });
    let timeline: Value = get(&app, "token-a", &format!("/2/users/{user_id}/tweets"), &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(timeline["data"][0]["id"], ledger[0]["status_id"]);
    set(Faults::default());
    assert_eq!(tweet(&app, "token-a", "did it post?").await.status(), 403);
    assert_eq!(app.ledger("").await.len(), 1);
    app.stop().await;
}
