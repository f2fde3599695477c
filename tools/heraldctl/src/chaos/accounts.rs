//! The run's social accounts, connected through `publisher.accounts.connect` as the gateway
//! would, with credentials the sandbox accepts (see each platform's module docs in
//! tools/sandbox): a distinct token (or identifier) per account, none with a test prefix, so
//! every account may publish and may list its posts (the lookups reconciliation needs).

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use herald_contracts::AccountId;
use herald_contracts::messages::Platform;
use herald_contracts::rpc::publisher::{ConnectAccount, ConnectAccountRequest};
use herald_contracts::rpc::{ErrorCode, Identity};
use herald_kit::async_nats;
use serde_json::Value;

use super::plan::Plan;
use crate::up::log::say;

const RPC_TIMEOUT: Duration = Duration::from_secs(15);
const ATTEMPTS: usize = 3;
/// The Graph API version in the path of the one call made here; the sandbox takes any.
const GRAPH_VERSION: &str = "v23.0";

/// The connected accounts of each platform, in slot order.
pub type Accounts = HashMap<Platform, Vec<AccountId>>;

pub async fn connect_all(
    client: &async_nats::Client,
    caller: &Identity,
    sandbox_url: &str,
    plan: &Plan,
) -> Result<Accounts> {
    let http = herald_kit::http::client(Duration::from_secs(10))?;
    let mut accounts = Accounts::new();
    for &platform in &plan.platforms {
        let wanted = plan.accounts_on(platform);
        let mut ids = Vec::with_capacity(wanted);
        for slot in 0..wanted {
            let request = request(&http, sandbox_url, &plan.run_id, platform, slot).await?;
            ids.push(connect(client, caller, platform, request).await?);
        }
        say(format!(
            "{platform}: {} account(s) connected for {} post(s)",
            ids.len(),
            plan.targets_on(platform)
        ));
        accounts.insert(platform, ids);
    }
    Ok(accounts)
}

async fn connect(
    client: &async_nats::Client,
    caller: &Identity,
    platform: Platform,
    request: ConnectAccountRequest,
) -> Result<AccountId> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let answer = herald_kit::rpc::call::<ConnectAccount>(
            client,
            &format!("chaos-connect-{platform}-{attempt}"),
            Some(caller.clone()),
            request.clone(),
            RPC_TIMEOUT,
        )
        .await;
        match answer {
            Ok(account) => return Ok(account.id),
            // Connecting twice is harmless (accounts are upserted): retry what may be passing.
            Err(error) if error.code == ErrorCode::Unavailable && attempt < ATTEMPTS => {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(error) => bail!("connecting a {platform} account: {error}"),
        }
    }
}

/// The credentials of account `slot` of `platform` for this run.
async fn request(
    http: &reqwest::Client,
    sandbox_url: &str,
    run_id: &str,
    platform: Platform,
    slot: usize,
) -> Result<ConnectAccountRequest> {
    let token = format!("chaos-{run_id}-{platform}-{slot}");
    let mut request = ConnectAccountRequest {
        platform,
        access_token: Some(token.clone()),
        ..ConnectAccountRequest::default()
    };
    match platform {
        Platform::Mastodon => request.instance_url = Some(sandbox_url.to_owned()),
        Platform::Bluesky => {
            request.access_token = None;
            request.identifier = Some(format!("chaos-{run_id}-{slot}.bsky.social"));
            request.password = Some("chaos-app-password".into());
        }
        // Every positive number is a page the sandbox's Page tokens may post to.
        Platform::Facebook => request.account_ref = Some((100_000_001 + slot).to_string()),
        // The user id derives from the token: ask the sandbox, as a user would look it up.
        Platform::Instagram => {
            request.account_ref = Some(instagram_user_id(http, sandbox_url, &token).await?)
        }
        Platform::X | Platform::Linkedin | Platform::Threads => {}
    }
    Ok(request)
}

async fn instagram_user_id(
    http: &reqwest::Client,
    sandbox_url: &str,
    token: &str,
) -> Result<String> {
    let response = http
        .get(format!("{sandbox_url}/instagram/{GRAPH_VERSION}/me"))
        .bearer_auth(token)
        .query(&[("fields", "id")])
        .send()
        .await
        .context("asking the sandbox for the Instagram user id")?;
    let status = response.status();
    let body: Value = response
        .json()
        .await
        .context("the sandbox's Instagram /me answer")?;
    body["id"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("the sandbox's Instagram /me answered {status} without an id"))
}
