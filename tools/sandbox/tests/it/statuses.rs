use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{header, spawn};

#[tokio::test]
async fn create_returns_a_status_and_records_it_once() {
    let app = spawn().await;
    let response = app
        .post_status(
            "token-a",
            json!({ "status": "hello <world> & 'you'" }),
            None,
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "x-ratelimit-limit"), "300");
    assert_eq!(header(&response, "x-ratelimit-remaining"), "299");
    let status: Value = response.json().await.unwrap();

    let id = status["id"].as_str().unwrap();
    assert!(id.parse::<u64>().is_ok(), "id is a numeric string: {id}");
    assert_eq!(
        status["content"],
        "<p>hello &lt;world&gt; &amp; &#39;you&#39;</p>"
    );
    assert_eq!(status["visibility"], "public");
    assert_eq!(
        status["favourites_count"], 0,
        "a new post has no engagement yet"
    );
    DateTime::parse_from_rfc3339(status["created_at"].as_str().unwrap()).unwrap();
    let hash = hex::encode(Sha256::digest(b"token-a"));
    let username = format!("user_{}", &hash[..8]);
    assert_eq!(status["account"]["username"], username.as_str());
    assert_eq!(
        status["url"],
        format!("{}/@{username}/{id}", app.handle.base_url()).as_str()
    );
    assert!(
        status["uri"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/statuses/{id}"))
    );

    let ledger = app.ledger("").await;
    assert_eq!(ledger.len(), 1);
    let entry = &ledger[0];
    assert_eq!(entry["platform"], "mastodon");
    assert_eq!(entry["status_id"], id);
    assert_eq!(entry["account_id"], status["account"]["id"]);
    assert_eq!(entry["text"], "hello <world> & 'you'");
    assert_eq!(entry["idempotency_key"], Value::Null);
    assert_eq!(entry["created_at"], status["created_at"]);
    // The in-process view is the same ledger.
    assert_eq!(app.handle.ledger().len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn ids_increase_and_remaining_counts_down() {
    let app = spawn().await;
    let first = app.create("token-a", "one", None).await;
    let response = app
        .post_status("token-a", json!({ "status": "two" }), None)
        .await;
    assert_eq!(header(&response, "x-ratelimit-remaining"), "298");
    let reset = DateTime::parse_from_rfc3339(header(&response, "x-ratelimit-reset")).unwrap();
    assert!(reset > Utc::now());
    let second: Value = response.json().await.unwrap();
    let id = |s: &Value| s["id"].as_str().unwrap().parse::<u64>().unwrap();
    assert!(id(&second) > id(&first));
    app.stop().await;
}

#[tokio::test]
async fn accepts_a_urlencoded_form_with_media_ids() {
    let app = spawn().await;
    let (first, second) = (upload(&app, "token-a").await, upload(&app, "token-a").await);
    let response = app
        .client
        .post(app.url("/api/v1/statuses"))
        .bearer_auth("token-a")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!(
            "status=from+a+form&visibility=unlisted&spoiler_text=cw&media_ids[]={first}&media_ids[]={second}"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let status: Value = response.json().await.unwrap();
    assert_eq!(status["content"], "<p>from a form</p>");
    assert_eq!(status["visibility"], "unlisted");
    assert_eq!(status["spoiler_text"], "cw");
    assert_eq!(status["sensitive"], true);
    let media: Vec<&str> = status["media_attachments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(media, [first.as_str(), second.as_str()]);
    assert_eq!(app.ledger("").await[0]["media_ids"], json!([first, second]));
    app.stop().await;
}

#[tokio::test]
async fn refuses_requests_without_a_token() {
    let app = spawn().await;
    let anonymous = app
        .client
        .post(app.url("/api/v1/statuses"))
        .json(&json!({ "status": "hi" }))
        .send()
        .await
        .unwrap();
    let empty_bearer = app
        .client
        .post(app.url("/api/v1/statuses"))
        .header("Authorization", "Bearer ")
        .json(&json!({ "status": "hi" }))
        .send()
        .await
        .unwrap();
    let credentials = app.get("/api/v1/accounts/verify_credentials", None).await;
    for response in [anonymous, empty_bearer, credentials] {
        assert_eq!(response.status(), 401);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body, json!({ "error": "The access token is invalid" }));
    }
    assert!(app.ledger("").await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn refuses_blank_text_without_media() {
    let app = spawn().await;
    for body in [json!({ "status": "  " }), json!({})] {
        let response = app.post_status("token-a", body, None).await;
        assert_eq!(response.status(), 422);
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body,
            json!({ "error": "Validation failed: Text can't be blank" })
        );
    }
    let id = upload(&app, "token-a").await;
    let media_only = app
        .post_status("token-a", json!({ "media_ids": [id] }), None)
        .await;
    assert_eq!(media_only.status(), 200);
    assert_eq!(app.ledger("").await.len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn refuses_text_over_500_characters_and_bad_visibility() {
    let app = spawn().await;
    let long = app
        .post_status("token-a", json!({ "status": "a".repeat(501) }), None)
        .await;
    assert_eq!(long.status(), 422);
    let bad = app
        .post_status(
            "token-a",
            json!({ "status": "hi", "visibility": "everyone" }),
            None,
        )
        .await;
    assert_eq!(bad.status(), 422);
    let malformed = app
        .client
        .post(app.url("/api/v1/statuses"))
        .bearer_auth("token-a")
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    assert!(app.ledger("").await.is_empty());
    app.stop().await;
}

/// Uploads a small image as the token's account and returns its media id.
async fn upload(app: &crate::helpers::TestSandbox, token: &str) -> String {
    let part = reqwest::multipart::Part::bytes(b"\x89PNG\r\n\x1a\n".to_vec())
        .file_name("a.png")
        .mime_str("image/png")
        .unwrap();
    let response = app
        .client
        .post(app.url("/api/v2/media"))
        .bearer_auth(token)
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let media: Value = response.json().await.unwrap();
    media["id"].as_str().unwrap().to_owned()
}
