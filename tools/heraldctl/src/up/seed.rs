//! The demo tenant, seeded through the public API as a user would, and the `curl` script that
//! shows a post travel from the gateway to the sandbox.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use herald_contracts::messages::Platform;
use herald_contracts::rpc::auth::{LoginRequest, RegisterRequest};
use herald_contracts::rpc::publisher::ConnectAccountRequest;
use serde_json::Value;

pub const DEMO_EMAIL: &str = "demo@herald.local";
pub const DEMO_PASSWORD: &str = "demo-password-1";
/// Any bearer token is an account on the sandbox; the same token is always the same account.
const SANDBOX_TOKEN: &str = "demo-token";

/// What seeding did.
pub struct Seeded {
    pub registered: bool,
    /// `None` when the account was connected by an earlier run.
    pub account_id: Option<String>,
}

/// Registers the demo tenant (already there is fine), logs in and connects the sandbox's
/// Mastodon account.
pub async fn demo_tenant(gateway: &str, sandbox: &str) -> Result<Seeded> {
    let client = herald_kit::http::client(Duration::from_secs(30))?;
    let register = RegisterRequest {
        tenant_name: "Demo".into(),
        email: DEMO_EMAIL.into(),
        password: DEMO_PASSWORD.into(),
    };
    let response = client
        .post(format!("{gateway}/v1/auth/register"))
        .json(&register)
        .send()
        .await
        .context("POST /v1/auth/register")?;
    let registered = match response.status().as_u16() {
        200 | 201 => true,
        409 => false,
        _ => bail!("POST /v1/auth/register: {}", describe(response).await),
    };

    let login = LoginRequest {
        email: DEMO_EMAIL.into(),
        password: DEMO_PASSWORD.into(),
        client_ip: None,
        tenant_id: None,
    };
    let response = client
        .post(format!("{gateway}/v1/auth/login"))
        .json(&login)
        .send()
        .await
        .context("POST /v1/auth/login")?;
    if !response.status().is_success() {
        bail!("POST /v1/auth/login: {}", describe(response).await);
    }
    let body: Value = response.json().await.context("the login response")?;
    let token = body["access_token"]
        .as_str()
        .context("the login response has no access_token")?;

    let connect = ConnectAccountRequest {
        platform: Platform::Mastodon,
        instance_url: Some(sandbox.to_owned()),
        access_token: Some(SANDBOX_TOKEN.into()),
        ..ConnectAccountRequest::default()
    };
    let response = client
        .post(format!("{gateway}/v1/accounts"))
        .bearer_auth(token)
        .json(&connect)
        .send()
        .await
        .context("POST /v1/accounts")?;
    let account_id = match response.status().as_u16() {
        200 | 201 => {
            let body: Value = response.json().await.context("the account response")?;
            body["id"].as_str().map(str::to_owned)
        }
        409 => None,
        _ => bail!("POST /v1/accounts: {}", describe(response).await),
    };
    Ok(Seeded {
        registered,
        account_id,
    })
}

async fn describe(response: reqwest::Response) -> String {
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    let body: String = body.chars().take(500).collect();
    format!("{status} {body}")
}

/// A POSIX sh script (curl and sed, no jq): a new tenant, its sandbox account, a post
/// scheduled 5 s ahead, and the sandbox ledger once it should have been published.
pub fn curl_script(gateway: &str, sandbox: &str) -> String {
    format!(
        r#"GW={gateway}
EMAIL="user-$(date +%s)@herald.local"
curl -s -X POST "$GW/v1/auth/register" -H 'content-type: application/json' \
  -d "{{\"tenant_name\":\"Tenant $(date +%s)\",\"email\":\"$EMAIL\",\"password\":\"{DEMO_PASSWORD}\"}}"; echo
TOKEN=$(curl -s -X POST "$GW/v1/auth/login" -H 'content-type: application/json' \
  -d "{{\"email\":\"$EMAIL\",\"password\":\"{DEMO_PASSWORD}\"}}" \
  | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
ACCOUNT=$(curl -s -X POST "$GW/v1/accounts" -H "authorization: Bearer $TOKEN" \
  -H 'content-type: application/json' \
  -d '{{"platform":"mastodon","instance_url":"{sandbox}","access_token":"{SANDBOX_TOKEN}"}}' \
  | sed -n 's/.*"id":"\([^"]*\)".*/\1/p')
echo "account: $ACCOUNT"
AT=$(date -u -d '+5 seconds' +%Y-%m-%dT%H:%M:%SZ)
curl -s -X POST "$GW/v1/posts" -H "authorization: Bearer $TOKEN" \
  -H 'content-type: application/json' \
  -d "{{\"text\":\"Hello from Herald at $AT\",\"scheduled_at\":\"$AT\",\"account_ids\":[\"$ACCOUNT\"]}}"; echo
sleep 8
curl -s {sandbox}/__sandbox/ledger; echo
"#
    )
}

#[cfg(test)]
mod tests {
    use super::curl_script;

    #[test]
    fn the_script_uses_the_given_addresses_and_no_jq() {
        let script = curl_script("http://127.0.0.1:8080", "http://127.0.0.1:8700");
        assert!(script.starts_with("GW=http://127.0.0.1:8080\n"));
        assert!(script.contains(r#""instance_url":"http://127.0.0.1:8700""#));
        assert!(script.contains("curl -s http://127.0.0.1:8700/__sandbox/ledger"));
        assert!(!script.contains("jq"));
    }
}
