//! The cross-tenant matrix: every route of the gateway's policy table
//! (`herald_gateway::http::policy::ROUTES`) is probed with tenant B's credentials against
//! tenant A's resources. A route that takes an id answers B with the uniform 404 and nothing
//! of A's; a list answers B with none of A's ids; a create that names A's resources is a 404;
//! a public route answers as designed. A's own credentials get 2xx on the same probes, so B's
//! 404 is about the tenant, not a broken probe. A route added to the table without a probe
//! here fails the test with "no probe for <verb> <path>: add one".
//!
//! B's credentials are a list of kinds: an owner's access token, and an API key holding every
//! scope, which runs the same matrix on every route a key may call (and gets the uniform 403
//! on the session-only ones).

mod probes;
mod setup;

use crate::fleet::{Api, Fleet, Reply};
use herald_gateway::http::policy::{Access, KeyAccess, ROUTES, RoutePolicy, paths};
use probes::{Call, Cross, Own, Probe, probe_for};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use setup::{TenantA, tenant_a};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);
/// How long an event stream is read for A's events (found at once when they are there).
const STREAM_READ: Duration = Duration::from_secs(3);

/// A way to call the API as a tenant.
enum Credential {
    Bearer(String),
    /// `hk_...`, sent as a bearer token.
    ApiKey(String),
}

impl Credential {
    fn apply(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            Credential::Bearer(token) | Credential::ApiKey(token) => request.bearer_auth(token),
        }
    }
}

/// B's owner creates a key with every scope.
async fn all_scopes_key(api: &Api, owner: &Credential) -> anyhow::Result<Credential> {
    let scopes: Vec<&str> = herald_contracts::rpc::api_keys::Scope::ALL
        .iter()
        .map(|scope| scope.as_str())
        .collect();
    let call = probes::Call::new(Method::POST, paths::API_KEYS)
        .json(json!({"name": "B's integration", "scopes": scopes}));
    let reply = send(api, Some(owner), &call, None).await?;
    match reply.body["secret"].as_str() {
        Some(secret) if reply.status == StatusCode::CREATED => {
            Ok(Credential::ApiKey(secret.to_owned()))
        }
        _ => anyhow::bail!("B's api key: {} {}", reply.status, reply.text),
    }
}

/// A caller's login, for the probes that act on the caller's own session.
struct Session {
    access: String,
    refresh: String,
}

const A_EMAIL: &str = "owner@a.tenancy.test";
const A_PASSWORD: &str = "A's own password";
const B_EMAIL: &str = "owner@b.tenancy.test";
const B_PASSWORD: &str = "B's own password";

/// Sends `call` as `credential` (or anonymously); a stream is read until `until` shows up
/// or [`STREAM_READ`] passes.
async fn send(
    api: &Api,
    credential: Option<&Credential>,
    call: &Call,
    until: Option<&str>,
) -> anyhow::Result<Reply> {
    let mut request = api.http.request(call.method.clone(), api.url(&call.path));
    if let Some(credential) = credential {
        request = credential.apply(request);
    }
    if let Some(body) = &call.body {
        request = request.json(body);
    }
    if !call.stream {
        return api.send(request).await;
    }
    let mut response = request.send().await?;
    let status = response.status();
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + STREAM_READ;
    while let Ok(Ok(Some(chunk))) = tokio::time::timeout_at(deadline, response.chunk()).await {
        text.push_str(&String::from_utf8_lossy(&chunk));
        if until.is_some_and(|marker| text.contains(marker)) {
            break;
        }
    }
    Ok(Reply {
        status,
        request_id: String::new(),
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    })
}

fn label(route: &RoutePolicy) -> String {
    format!("{} {}", route.verb.as_str(), route.path)
}

/// Checks B's reply to one probe; an error names the route and what went wrong.
fn check_cross(route: &str, a: &TenantA, expect: &Cross, reply: &Reply) -> Result<(), String> {
    let leaked: Vec<&String> = a
        .markers
        .iter()
        .filter(|marker| reply.text.contains(marker.as_str()))
        .collect();
    let public_by_design = matches!(expect, Cross::Public(_));
    if !leaked.is_empty() && !public_by_design {
        return Err(format!(
            "{route}: A's data {leaked:?} in B's reply {}",
            reply.text
        ));
    }
    match expect {
        Cross::Refused(status) => {
            let error = &reply.body["error"];
            if reply.status != *status
                || !error["code"].is_string()
                || !error["message"].is_string()
                || error["request_id"] != json!(reply.request_id)
            {
                return Err(format!(
                    "{route}: wanted the uniform {status} body, got {} {}",
                    reply.status, reply.text
                ));
            }
        }
        Cross::Clean { absent } => {
            if !reply.status.is_success() {
                return Err(format!(
                    "{route}: wanted 2xx, got {} {}",
                    reply.status, reply.text
                ));
            }
            if let Some(found) = absent.iter().find(|a| reply.text.contains(a.as_str())) {
                return Err(format!(
                    "{route}: A's {found:?} in B's reply {}",
                    reply.text
                ));
            }
        }
        Cross::Public(status) => {
            if reply.status != *status {
                return Err(format!(
                    "{route}: public by design, wanted {status}, got {} {}",
                    reply.status, reply.text
                ));
            }
        }
    }
    Ok(())
}

/// The owner of a tenant registered for one destructive probe alone (on `side`'s behalf).
async fn throwaway(api: &Api, side: &str) -> anyhow::Result<Credential> {
    let n = format!("{:016x}", rand::random::<u64>());
    let tokens = api
        .owner(
            &format!("{side}'s throwaway {n}"),
            &format!("throwaway-{n}@{side}.tenancy.test"),
            "throwaway password",
        )
        .await?;
    Ok(Credential::Bearer(
        tokens["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    ))
}

/// Logs `email` in again: a session of its own for a probe that ends it.
async fn fresh_session(api: &Api, email: &str, password: &str) -> anyhow::Result<Session> {
    let login = send(
        api,
        None,
        &Call::new(Method::POST, paths::LOGIN).json(json!({"email": email, "password": password})),
        None,
    )
    .await?;
    let field = |name: &str| login.body[name].as_str().map(str::to_owned);
    match (field("access_token"), field("refresh_token")) {
        (Some(access), Some(refresh)) => Ok(Session { access, refresh }),
        _ => anyhow::bail!("login {email}: {} {}", login.status, login.text),
    }
}

/// `call` with `$REFRESH` in its body replaced by the session's refresh token.
fn on(call: &Call, session: &Session) -> Call {
    let body = call.body.as_ref().map(|body| {
        let text = body.to_string().replace("$REFRESH", &session.refresh);
        serde_json::from_str(&text).unwrap_or(Value::Null)
    });
    Call {
        method: call.method.clone(),
        path: call.path.clone(),
        body,
        stream: call.stream,
    }
}

/// Runs `probe`'s B side as `credential` (a fresh login of B for session probes).
async fn run_cross(
    api: &Api,
    credential: &Credential,
    route: &str,
    probe: &Probe,
    a: &TenantA,
) -> anyhow::Result<Vec<String>> {
    let mut failures = Vec::new();
    let reply = if probe.throwaway {
        let fresh = throwaway(api, "b").await?;
        send(api, Some(&fresh), &probe.cross, None).await?
    } else if probe.session {
        let session = fresh_session(api, B_EMAIL, B_PASSWORD).await?;
        let fresh = Credential::Bearer(session.access.clone());
        send(api, Some(&fresh), &on(&probe.cross, &session), None).await?
    } else {
        send(api, Some(credential), &probe.cross, None).await?
    };
    if let Err(failure) = check_cross(route, a, &probe.expect, &reply) {
        failures.push(failure);
    }
    if matches!(probe.expect, Cross::Public(_)) {
        // Public by design: the same answer with no credential at all.
        let anonymous = send(api, None, &probe.cross, None).await?;
        if anonymous.status != reply.status {
            failures.push(format!(
                "{route}: anonymous {} but B {}",
                anonymous.status, reply.status
            ));
        }
    }
    Ok(failures)
}

/// Runs `probe`'s A side (a fresh login of A for session probes).
async fn run_own(
    api: &Api,
    route: &str,
    probe: &Probe,
    a: &TenantA,
) -> anyhow::Result<Option<String>> {
    let marker = match &probe.own_expect {
        Own::Success(marker) => marker.as_deref(),
        Own::Found => None,
    };
    let reply = if probe.throwaway {
        let fresh = throwaway(api, "a").await?;
        send(api, Some(&fresh), &probe.own, marker).await?
    } else if probe.session {
        let session = fresh_session(api, A_EMAIL, A_PASSWORD).await?;
        let fresh = Credential::Bearer(session.access.clone());
        send(api, Some(&fresh), &on(&probe.own, &session), marker).await?
    } else {
        send(api, Some(&a.credential), &probe.own, marker).await?
    };
    let shown: String = reply.text.chars().take(300).collect();
    let failure = match &probe.own_expect {
        Own::Success(_) if !reply.status.is_success() => Some(format!(
            "{route}: A's own call got {} {shown}",
            reply.status
        )),
        Own::Success(Some(marker)) if !reply.text.contains(marker.as_str()) => {
            Some(format!("{route}: A's own reply lacks {marker:?}: {shown}"))
        }
        Own::Found
            if matches!(
                reply.status,
                StatusCode::UNAUTHORIZED | StatusCode::NOT_FOUND
            ) =>
        {
            Some(format!(
                "{route}: A's own resource not found: {} {shown}",
                reply.status
            ))
        }
        _ => None,
    };
    Ok(failure)
}

#[tokio::test]
async fn tenant_b_gets_not_found_and_never_data_on_every_route() -> anyhow::Result<()> {
    let fleet = Fleet::start().await?;
    let api = Api::new(format!("http://{}", fleet.gateway))?;
    let sandbox = fleet.sandbox.base_url();
    let a = tenant_a(&fleet, &api).await?;
    let b_tokens = api.owner("Tenant B", B_EMAIL, B_PASSWORD).await?;
    // Every kind of credential B can hold.
    let b_owner = Credential::Bearer(
        b_tokens["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    );
    let b_key = all_scopes_key(&api, &b_owner).await?;
    let b_credentials = [
        ("B's owner token", b_owner),
        ("B's all-scopes API key", b_key),
    ];

    let mut missing = Vec::new();
    let mut probes = Vec::new();
    for route in ROUTES {
        match probe_for(route, &a, sandbox) {
            Some(probe) => probes.push((label(route), route.path, probe)),
            None => missing.push(format!("no probe for {}: add one", label(route))),
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
    // Session probes last, and the password change last of all (later logins use the old one).
    probes.sort_by_key(|(_, path, probe)| (probe.session, *path == paths::ME_PASSWORD));

    // B first, on everything: nothing B does may change what A then sees.
    let mut failures = Vec::new();
    for (kind, credential) in &b_credentials {
        for (route, _, probe) in &probes {
            if let Credential::ApiKey(_) = credential {
                // Keys call what their scopes open; elsewhere the uniform 403, never data.
                let policy = ROUTES.iter().find(|policy| label(policy) == *route);
                match policy.map(|policy| policy.access) {
                    Some(Access::Protected {
                        keys: KeyAccess::Scope(_),
                        ..
                    }) => {}
                    Some(Access::Protected { .. }) if !probe.session => {
                        let reply = send(&api, Some(credential), &probe.cross, None).await?;
                        let refused = Cross::Refused(StatusCode::FORBIDDEN);
                        if let Err(failure) = check_cross(route, &a, &refused, &reply) {
                            failures.push(format!("{kind}: {failure}"));
                        }
                        continue;
                    }
                    _ => continue,
                }
            }
            for failure in run_cross(&api, credential, route, probe, &a).await? {
                failures.push(format!("{kind}: {failure}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    let own = Some(&a.credential);
    let pending = send(
        &api,
        own,
        &Call::new(Method::GET, format!("/v1/posts/{}", a.pending_post)),
        None,
    )
    .await?;
    assert_eq!(
        pending.body["text"],
        json!(a.pending_text),
        "B changed A's post"
    );
    let accounts = send(&api, own, &Call::new(Method::GET, paths::ACCOUNTS), None).await?;
    for id in [&a.kept_account, &a.doomed_account] {
        assert!(
            accounts.text.contains(id.as_str()),
            "B removed A's account {id}: {}",
            accounts.text
        );
    }
    let cancellable = send(
        &api,
        own,
        &Call::new(Method::GET, format!("/v1/posts/{}", a.cancellable_post)),
        None,
    )
    .await?;
    assert_eq!(
        cancellable.body["status"],
        json!("scheduled"),
        "{}",
        cancellable.text
    );

    // A's own calls succeed: B's refusals above are about the tenant.
    for (route, _, probe) in &probes {
        if let Some(failure) = run_own(&api, route, probe, &a).await? {
            failures.push(failure);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // The public media origin knows only hashes: an unknown one is the uniform 404.
    let unknown = send(
        &api,
        None,
        &Call::new(Method::GET, format!("/media/{}.png", "0".repeat(64))),
        None,
    )
    .await?;
    check_cross(
        "GET /media (unknown hash)",
        &a,
        &Cross::Refused(StatusCode::NOT_FOUND),
        &unknown,
    )
    .map_err(anyhow::Error::msg)?;
    fleet.stop().await
}
