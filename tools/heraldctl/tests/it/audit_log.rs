//! `GET /v1/audit` with the whole fleet: a login (auth) and an account connected and
//! disconnected (publisher) reach the owner's audit log through the `AUDIT` stream; another
//! tenant sees only its own events; no token, no log.

// Helpers outside #[test] functions unwrap too; clippy.toml only covers the latter.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::fleet::Fleet;
use herald_testkit::wait_for;
use serde_json::{Value, json};
use std::time::Duration;

async fn send(request: reqwest::RequestBuilder) -> anyhow::Result<(u16, Value)> {
    let response = request.send().await?;
    let status = response.status().as_u16();
    Ok((status, response.json().await.unwrap_or(Value::Null)))
}

async fn owner(fleet: &Fleet, http: &reqwest::Client, tenant: &str, email: &str) -> String {
    let password = "correct horse battery";
    let (status, _) = send(
        http.post(fleet.url("/v1/auth/register"))
            .json(&json!({"tenant_name": tenant, "email": email, "password": password})),
    )
    .await
    .unwrap();
    assert_eq!(status, 201);
    let (status, tokens) = send(
        http.post(fleet.url("/v1/auth/login"))
            .json(&json!({"email": email, "password": password})),
    )
    .await
    .unwrap();
    assert_eq!(status, 200, "{tokens}");
    tokens["access_token"].as_str().unwrap().to_owned()
}

fn actions(page: &Value) -> Vec<String> {
    page["events"]
        .as_array()
        .map(|events| {
            events
                .iter()
                .map(|e| e["action"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn owners_read_their_tenants_audit_log_through_the_gateway() {
    let fleet = Fleet::start().await.unwrap();
    let http = herald_kit::http::client(Duration::from_secs(20)).unwrap();
    let acme = owner(&fleet, &http, "Acme", "owner@acme.test").await;
    let (status, account) = send(
        http.post(fleet.url("/v1/accounts"))
            .bearer_auth(&acme)
            .json(&json!({
                "platform": "mastodon",
                "instance_url": fleet.sandbox.base_url(),
                "access_token": "acme-token",
            })),
    )
    .await
    .unwrap();
    assert_eq!(status, 201, "{account}");
    let account_id = account["id"].as_str().unwrap().to_owned();
    let (status, _) = send(
        http.delete(fleet.url(&format!("/v1/accounts/{account_id}")))
            .bearer_auth(&acme),
    )
    .await
    .unwrap();
    assert_eq!(status, 200);
    let bobco = owner(&fleet, &http, "Bobco", "owner@bobco.test").await;

    let page = wait_for("three audit events", Duration::from_secs(30), || async {
        let (status, page) = send(http.get(fleet.url("/v1/audit")).bearer_auth(&acme))
            .await
            .ok()?;
        (status == 200 && actions(&page).len() >= 3).then_some(page)
    })
    .await
    .unwrap();
    assert_eq!(
        actions(&page),
        [
            "account.disconnected",
            "account.connected",
            "auth.login_succeeded"
        ],
        "{page}"
    );
    assert_eq!(
        page["events"][0]["target"],
        json!({"type": "account", "id": account_id})
    );
    assert_eq!(page["events"][0]["actor"]["type"], "user");
    assert_eq!(page["events"][2]["client_ip"], "127.0.0.1");

    let (status, filtered) = send(
        http.get(fleet.url("/v1/audit?action=account.connected&limit=10"))
            .bearer_auth(&acme),
    )
    .await
    .unwrap();
    assert_eq!(status, 200);
    assert_eq!(actions(&filtered), ["account.connected"]);
    assert_eq!(filtered["next_cursor"], Value::Null);

    let bob_page = wait_for("bobco's login event", Duration::from_secs(30), || async {
        let (_, page) = send(http.get(fleet.url("/v1/audit")).bearer_auth(&bobco))
            .await
            .ok()?;
        (!actions(&page).is_empty()).then_some(page)
    })
    .await
    .unwrap();
    assert_eq!(actions(&bob_page), ["auth.login_succeeded"]);

    let (status, body) = send(http.get(fleet.url("/v1/audit"))).await.unwrap();
    assert_eq!(status, 401, "{body}");
    let (status, body) = send(
        http.get(fleet.url("/v1/audit?cursor=nonsense"))
            .bearer_auth(&acme),
    )
    .await
    .unwrap();
    assert_eq!(status, 422, "{body}");
    fleet.stop().await.unwrap();
}
