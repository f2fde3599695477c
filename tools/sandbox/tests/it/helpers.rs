use std::net::TcpListener;
use std::time::Duration;

use herald_sandbox::SandboxHandle;
use reqwest::{Client, Response};
use serde_json::Value;

pub struct TestSandbox {
    pub handle: SandboxHandle,
    pub client: Client,
}

pub async fn spawn() -> TestSandbox {
    // reqwest uses rustls without a provider; installing twice is a harmless error.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let handle = herald_sandbox::start(listener).await.unwrap();
    let client = Client::builder()
        // Only a guard against a hung test; tests check they did not hit it.
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    TestSandbox { handle, client }
}

impl TestSandbox {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.handle.base_url())
    }

    pub async fn post_status(&self, token: &str, body: Value, key: Option<&str>) -> Response {
        let mut request = self
            .client
            .post(self.url("/api/v1/statuses"))
            .bearer_auth(token)
            .json(&body);
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        request.send().await.unwrap()
    }

    /// Posts and returns the created status, asserting a 200.
    pub async fn create(&self, token: &str, text: &str, key: Option<&str>) -> Value {
        let response = self
            .post_status(token, serde_json::json!({ "status": text }), key)
            .await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        let mut request = self.client.get(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    pub async fn ledger(&self, query: &str) -> Vec<Value> {
        let response = self.get(&format!("/__sandbox/ledger{query}"), None).await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    pub async fn set_faults(&self, faults: Value) -> Response {
        self.client
            .put(self.url("/__sandbox/faults/mastodon"))
            .json(&faults)
            .send()
            .await
            .unwrap()
    }

    pub async fn account_id(&self, token: &str) -> String {
        let account: Value = self
            .get("/api/v1/accounts/verify_credentials", Some(token))
            .await
            .json()
            .await
            .unwrap();
        account["id"].as_str().unwrap().to_owned()
    }

    pub async fn stop(self) {
        self.handle.stop().await.unwrap();
    }
}

pub fn header<'a>(response: &'a Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("missing header {name}"))
        .to_str()
        .unwrap()
}
