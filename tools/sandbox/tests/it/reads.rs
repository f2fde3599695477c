use serde_json::{Value, json};

use crate::helpers::{header, spawn};

#[tokio::test]
async fn a_status_reports_counts_derived_from_its_id() {
    let app = spawn().await;
    let created = app.create("token-a", "count me", None).await;
    let id = created["id"].as_str().unwrap();

    let response = app.get(&format!("/api/v1/statuses/{id}"), None).await;
    assert_eq!(response.status(), 200);
    let status: Value = response.json().await.unwrap();
    let expected = herald_sandbox::mastodon::engagement_for(id.parse().unwrap());
    assert_eq!(status["id"], id);
    assert_eq!(status["favourites_count"], expected.favourites);
    assert_eq!(status["reblogs_count"], expected.reblogs);
    assert_eq!(status["replies_count"], expected.replies);
    assert!(expected.favourites > 0 && expected.reblogs > 0 && expected.replies > 0);
    app.stop().await;
}

#[tokio::test]
async fn unknown_statuses_are_not_found() {
    let app = spawn().await;
    for path in ["/api/v1/statuses/12345", "/api/v1/statuses/not-a-number"] {
        let response = app.get(path, Some("token-a")).await;
        assert_eq!(response.status(), 404);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body, json!({ "error": "Record not found" }));
    }
    app.stop().await;
}

#[tokio::test]
async fn private_statuses_are_hidden_from_others() {
    let app = spawn().await;
    let response = app
        .post_status(
            "token-a",
            json!({ "status": "secret", "visibility": "private" }),
            None,
        )
        .await;
    let status: Value = response.json().await.unwrap();
    let path = format!("/api/v1/statuses/{}", status["id"].as_str().unwrap());
    assert_eq!(app.get(&path, Some("token-a")).await.status(), 200);
    assert_eq!(app.get(&path, Some("token-b")).await.status(), 404);
    assert_eq!(app.get(&path, None).await.status(), 404);
    app.stop().await;
}

#[tokio::test]
async fn verify_credentials_is_stable_per_token() {
    let app = spawn().await;
    let response = app
        .get("/api/v1/accounts/verify_credentials", Some("token-a"))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "x-ratelimit-limit"), "300");
    let account: Value = response.json().await.unwrap();
    for field in ["id", "username", "acct", "display_name", "url"] {
        assert!(account[field].is_string(), "{field} in {account}");
    }
    assert_eq!(account["username"], account["acct"]);
    assert_eq!(
        app.account_id("token-a").await,
        account["id"].as_str().unwrap()
    );
    assert_ne!(
        app.account_id("token-b").await,
        account["id"].as_str().unwrap()
    );
    app.stop().await;
}

#[tokio::test]
async fn account_statuses_are_newest_first_and_paginate() {
    let app = spawn().await;
    let account_id = app.account_id("token-a").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let status = app.create("token-a", &format!("post {i}"), None).await;
        ids.push(status["id"].as_str().unwrap().to_owned());
    }
    app.create("token-b", "someone else", None).await;

    let path = format!("/api/v1/accounts/{account_id}/statuses?limit=3");
    let response = app.get(&path, None).await;
    assert_eq!(response.status(), 200);
    let link = header(&response, "link").to_owned();
    let page: Vec<Value> = response.json().await.unwrap();
    let page_ids: Vec<&str> = page.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(page_ids, [&ids[4], &ids[3], &ids[2]]);
    assert!(
        link.contains(&format!("max_id={}>; rel=\"next\"", ids[2])),
        "{link}"
    );

    let older = format!("/api/v1/accounts/{account_id}/statuses?max_id={}", ids[2]);
    let older: Vec<Value> = app.get(&older, None).await.json().await.unwrap();
    let older_ids: Vec<&str> = older.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(older_ids, [&ids[1], &ids[0]]);

    let unknown = app.get("/api/v1/accounts/42/statuses", None).await;
    assert_eq!(unknown.status(), 404);
    app.stop().await;
}
