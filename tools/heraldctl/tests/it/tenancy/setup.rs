//! Tenant A: one of every resource kind, its post published, measured, metered and
//! notified, and every string that would betray A in B's replies.

use super::probes::Call;
use super::{A_EMAIL, A_PASSWORD, Credential, WAIT, send};
use crate::fleet::{Api, Fleet, Reply};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use herald_gateway::http::policy::paths;
use herald_testkit::wait_for;
use reqwest::Method;
use serde_json::{Value, json};

/// What tenant A owns, and every string that would betray it.
pub(super) struct TenantA {
    pub(super) credential: Credential,
    pub(super) user_id: String,
    pub(super) kept_account: String,
    pub(super) doomed_account: String,
    pub(super) mastodon_token: String,
    pub(super) published_post: String,
    pub(super) pending_post: String,
    pub(super) pending_text: String,
    pub(super) cancellable_post: String,
    pub(super) render: String,
    pub(super) content_hash: String,
    pub(super) notification: String,
    /// A's owner's GDPR export, complete (so its archive downloads).
    pub(super) export: String,
    /// An API key of A's (its id; revoked by A's own probe of the revoke route).
    pub(super) api_key: String,
    /// A pending invitation of A's (its id; revoked by A's own probe of the revoke route).
    pub(super) invitation: String,
    /// The erasure of a tenant registered and deleted by its owner (its status is public by
    /// design: the id is the capability).
    pub(super) erasure: String,
    pub(super) markers: Vec<String>,
}

/// `tid` and `sub` of an access token: the tenant and user ids, which B must never see.
fn claims(token: &str) -> anyhow::Result<Value> {
    let payload = token
        .split('.')
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("not a JWT"))?;
    Ok(serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload)?)?)
}

fn id_of(reply: &Reply, what: &str) -> anyhow::Result<String> {
    anyhow::ensure!(
        reply.status.is_success(),
        "{what}: {} {}",
        reply.status,
        reply.text
    );
    reply.body["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("{what}: no id in {}", reply.text))
}

/// Tenant A with one of every resource kind, its post published, measured, metered and
/// notified.
pub(super) async fn tenant_a(fleet: &Fleet, api: &Api) -> anyhow::Result<TenantA> {
    let tokens = api.owner("Tenant A", A_EMAIL, A_PASSWORD).await?;
    let token = tokens["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let credential = Credential::Bearer(token.clone());
    let a = Some(&credential);
    let sandbox = fleet.sandbox.base_url();
    let mastodon_token = "a-kept".to_owned();
    let connect = |token: &str| {
        Call::new(Method::POST, paths::ACCOUNTS)
            .json(json!({"platform": "mastodon", "instance_url": sandbox, "access_token": token}))
    };
    let kept_account = id_of(
        &send(api, a, &connect(&mastodon_token), None).await?,
        "kept",
    )?;
    let doomed_account = id_of(&send(api, a, &connect("a-doomed"), None).await?, "doomed")?;
    let post = |text: &str, at: chrono::DateTime<chrono::Utc>| {
        Call::new(Method::POST, paths::POSTS).json(
            json!({"text": text, "scheduled_at": at.to_rfc3339(), "account_ids": [kept_account]}),
        )
    };
    let now = chrono::Utc::now();
    let published_post = id_of(
        &send(
            api,
            a,
            &post("A's launch", now + chrono::Duration::seconds(3)),
            None,
        )
        .await?,
        "published post",
    )?;
    let pending_text = format!("A's plan {}", uuid_suffix(&published_post));
    let later = now + chrono::Duration::hours(1);
    let pending_post = id_of(
        &send(api, a, &post(&pending_text, later), None).await?,
        "pending",
    )?;
    let cancellable_post = id_of(
        &send(api, a, &post("A's maybe", later), None).await?,
        "cancellable",
    )?;
    let design = json!({"width": 64, "height": 64, "background": "#abcdef"});
    let render = id_of(
        &send(
            api,
            a,
            &Call::new(Method::POST, paths::RENDERS).json(json!({"design": design})),
            None,
        )
        .await?,
        "render",
    )?;

    let get =
        |path: String| async move { send(api, a, &Call::new(Method::GET, path), None).await.ok() };
    let content_hash = wait_for("A's render completed", WAIT, || async {
        let reply = get(format!("/v1/renders/{render}")).await?;
        reply.body["content_hash"].as_str().map(str::to_owned)
    })
    .await?;
    wait_for("A's post published, measured and metered", WAIT, || async {
        let metrics = get(format!("/v1/posts/{published_post}/metrics")).await?;
        let usage = get(paths::USAGE.to_owned()).await?;
        (metrics.body["samples"]
            .as_array()
            .is_some_and(|s| !s.is_empty())
            && usage.body["items"]
                .as_array()
                .is_some_and(|i| !i.is_empty()))
        .then_some(())
    })
    .await?;
    let notification = wait_for("A's notification", WAIT, || async {
        let list = get(paths::NOTIFICATIONS.to_owned()).await?;
        list.body["items"][0]["id"].as_str().map(str::to_owned)
    })
    .await?;

    let export =
        id_of_export(&send(api, a, &Call::new(Method::POST, paths::ME_EXPORT), None).await?)?;
    wait_for("A's export complete", WAIT, || async {
        let reply = get(paths::EXPORT.replace("{id}", &export)).await?;
        (reply.body["status"] == "complete").then_some(())
    })
    .await?;

    let api_key = id_of_key(
        &send(
            api,
            a,
            &Call::new(Method::POST, paths::API_KEYS)
                .json(json!({"name": "A's integration", "scopes": ["posts:read"]})),
            None,
        )
        .await?,
    )?;

    let invited = send(
        api,
        a,
        &Call::new(Method::POST, paths::INVITATIONS)
            .json(json!({"email": "invitee@a.tenancy.test", "role": "viewer"})),
        None,
    )
    .await?;
    let invitation = invited.body["id"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("invitation: {} {}", invited.status, invited.text))?
        .to_owned();

    let gone = api
        .owner("A's former tenant", "gone@a.tenancy.test", A_PASSWORD)
        .await?;
    let gone = Credential::Bearer(gone["access_token"].as_str().unwrap_or_default().to_owned());
    let erased = send(
        api,
        Some(&gone),
        &Call::new(Method::DELETE, paths::TENANT),
        None,
    )
    .await?;
    let erasure = erased.body["erasure_id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("erasure: {} {}", erased.status, erased.text))?;

    let claims = claims(&token)?;
    let mut markers: Vec<String> = vec![
        invitation.clone(),
        "invitee@a.tenancy.test".into(),
        A_EMAIL.into(),
        kept_account.clone(),
        doomed_account.clone(),
        published_post.clone(),
        pending_post.clone(),
        pending_text.clone(),
        cancellable_post.clone(),
        render.clone(),
        content_hash.clone(),
        notification.clone(),
        export.clone(),
        api_key.clone(),
        api_key.replace('-', ""),
        "A's integration".into(),
        "A's launch".into(),
    ];
    let user_id = claims["sub"].as_str().unwrap_or_default().to_owned();
    let tenant_id = claims["tid"].as_str().unwrap_or_default().to_owned();
    anyhow::ensure!(!user_id.is_empty() && !tenant_id.is_empty(), "{claims}");
    markers.extend([user_id.clone(), tenant_id]);
    Ok(TenantA {
        credential,
        user_id,
        kept_account,
        doomed_account,
        mastodon_token,
        published_post,
        pending_post,
        pending_text,
        cancellable_post,
        render,
        content_hash,
        notification,
        export,
        api_key,
        invitation,
        erasure,
        markers,
    })
}

fn id_of_export(reply: &Reply) -> anyhow::Result<String> {
    anyhow::ensure!(
        reply.status.is_success(),
        "export: {} {}",
        reply.status,
        reply.text
    );
    reply.body["export_id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("export: no id in {}", reply.text))
}

/// The id of a created API key (`{"key": {"id"}, "secret"}`).
fn id_of_key(reply: &Reply) -> anyhow::Result<String> {
    anyhow::ensure!(
        reply.status.is_success(),
        "api key: {} {}",
        reply.status,
        reply.text
    );
    reply.body["key"]["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("api key: no id in {}", reply.text))
}

fn uuid_suffix(id: &str) -> &str {
    &id[id.len().saturating_sub(8)..]
}
