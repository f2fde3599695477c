//! The sandbox's Bluesky PDS over HTTP: sessions, record writes keyed by rkey (no-op replay,
//! `InvalidSwap`), getRecord, getPosts, rate-limit headers, faults and the ledger.

mod faults;
mod reads;
mod records;
mod sessions;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Response;
use serde_json::{Value, json};

use crate::helpers::TestSandbox;

const POST: &str = "app.bsky.feed.post";

fn xrpc(app: &TestSandbox, nsid: &str) -> String {
    app.url(&format!("/bluesky/xrpc/{nsid}"))
}

async fn call(app: &TestSandbox, nsid: &str, token: Option<&str>, body: Value) -> Response {
    let mut request = app.client.post(xrpc(app, nsid)).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

async fn query(app: &TestSandbox, nsid: &str, params: &[(&str, &str)]) -> Response {
    app.client
        .get(xrpc(app, nsid))
        .query(params)
        .send()
        .await
        .unwrap()
}

/// A session for `identifier`: (did, accessJwt, refreshJwt).
async fn session(app: &TestSandbox, identifier: &str) -> (String, String, String) {
    let response = call(
        app,
        "com.atproto.server.createSession",
        None,
        json!({ "identifier": identifier, "password": "app-pass-1234" }),
    )
    .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    (
        body["did"].as_str().unwrap().to_owned(),
        body["accessJwt"].as_str().unwrap().to_owned(),
        body["refreshJwt"].as_str().unwrap().to_owned(),
    )
}

fn post_record(text: &str) -> Value {
    json!({ "$type": POST, "text": text, "createdAt": "2026-03-01T12:00:00.000Z" })
}

fn put_body(did: &str, rkey: &str, record: Value) -> Value {
    json!({ "repo": did, "collection": POST, "rkey": rkey, "record": record, "swapRecord": null })
}

async fn error_of(response: Response) -> (u16, String, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    (
        status,
        body["error"].as_str().unwrap_or_default().to_owned(),
        body["message"].as_str().unwrap_or_default().to_owned(),
    )
}

fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}
