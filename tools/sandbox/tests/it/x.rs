//! The sandbox's X API v2 over HTTP: users/me, tweet creation and the duplicate-content
//! refusal, the user timeline used for reconciliation, lookups with metrics, OAuth 2.0
//! refresh, rate-limit headers, faults and the ledger.

mod oauth;
mod timeline;
mod tweets;

use reqwest::Response;
use serde_json::{Value, json};

use crate::helpers::TestSandbox;

fn url(app: &TestSandbox, path: &str) -> String {
    app.url(&format!("/x{path}"))
}

async fn tweet(app: &TestSandbox, token: &str, text: &str) -> Response {
    app.client
        .post(url(app, "/2/tweets"))
        .bearer_auth(token)
        .json(&json!({ "text": text }))
        .send()
        .await
        .unwrap()
}

async fn get(app: &TestSandbox, token: &str, path: &str, params: &[(&str, &str)]) -> Response {
    app.client
        .get(url(app, path))
        .bearer_auth(token)
        .query(params)
        .send()
        .await
        .unwrap()
}

async fn me(app: &TestSandbox, token: &str) -> Value {
    let response = get(app, token, "/2/users/me", &[]).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["data"].clone()
}

async fn created_id(response: Response) -> String {
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    body["data"]["id"].as_str().unwrap().to_owned()
}
