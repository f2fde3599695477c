//! The requests that carry secrets: registration and logins (right, wrong and malformed),
//! accounts connected with social tokens and an app password, a publish that refreshes an X
//! token, requests that fail, and the session routes (refresh, reuse, password change,
//! logout).

use super::WAIT;
use super::watched::{Watched, random};
use crate::fleet::{Api, Reply};
use herald_testkit::{free_port, wait_for};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// A request that must fail: what it is, its bearer, method, path and body.
type Failing<'a> = (&'a str, Option<&'a str>, Method, String, Option<Value>);

/// Drives the fleet through every path that handles a secret, recording each reply the
/// client sees in `bodies` and each secret the run creates in `watched`. Returns the request
/// id sent for the capture's self-check.
pub(super) async fn exercise(
    api: &Api,
    sandbox_url: &str,
    watched: &mut Vec<Watched>,
    bodies: &mut Vec<(String, Reply)>,
) -> anyhow::Result<String> {
    let password = format!("pw-{}", random(24));
    let wrong_password = format!("pw-{}", random(24));
    watched.push(Watched::text("user password", &password));
    watched.push(Watched::text("wrong password", &wrong_password));
    let email = "owner@secrets.test";

    let self_check = format!("secrets-self-check-{}", random(12));
    let register = api
        .send(
            api.http
                .post(api.url("/v1/auth/register"))
                .header("x-request-id", &self_check)
                .json(&json!({"tenant_name": "Secrets", "email": email, "password": password})),
        )
        .await?;
    assert_eq!(register.status, StatusCode::CREATED, "{}", register.text);
    assert_eq!(register.request_id, self_check, "the gateway kept our id");
    bodies.push(("register".into(), register));

    let login = api
        .call(
            None,
            Method::POST,
            "/v1/auth/login",
            Some(json!({"email": email, "password": password})),
        )
        .await?;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text);
    let access = login.body["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let refresh = login.body["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(!access.is_empty() && !refresh.is_empty(), "{}", login.body);
    watched.push(Watched::jwt("access token", &access));
    watched.push(Watched::text("refresh token", &refresh));
    // The token response is the one body that carries tokens; it must still not echo the
    // password.
    assert!(!login.text.contains(&password));

    // An API key: its creation answer is the one body that shows the secret; using it, and a
    // forged key with its id and another secret, must leave it nowhere else.
    let created = api
        .call(
            Some(&access),
            Method::POST,
            "/v1/api-keys",
            Some(json!({"name": "integration", "scopes": ["posts:read"]})),
        )
        .await?;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let api_key = created.body["secret"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    // `hk_` and the 32-hex id are public (listed, logged); the rest is the secret.
    let (public, secret) = api_key.split_at(35.min(api_key.len()));
    assert!(
        public.starts_with("hk_") && secret.len() > 30,
        "{}",
        created.body
    );
    watched.push(Watched::text("API key secret", &secret[1..]));
    let listed = api
        .call(Some(&api_key), Method::GET, "/v1/posts", None)
        .await?;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    bodies.push(("posts listed with the API key".into(), listed));
    let keys = api
        .call(Some(&access), Method::GET, "/v1/api-keys", None)
        .await?;
    assert_eq!(keys.status, StatusCode::OK, "{}", keys.text);
    bodies.push(("API keys listed".into(), keys));
    let forged_secret = format!("{}{}", random(20), random(23));
    let forged = format!("{public}_{forged_secret}");
    watched.push(Watched::text("forged API key", &forged_secret));
    let refused = api
        .call(Some(&forged), Method::GET, "/v1/posts", None)
        .await?;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.text);
    bodies.push(("forged API key".into(), refused));

    let wrong = api
        .call(
            None,
            Method::POST,
            "/v1/auth/login",
            Some(json!({"email": email, "password": wrong_password})),
        )
        .await?;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{}", wrong.text);
    bodies.push(("wrong password".into(), wrong));
    let malformed = api
        .send(
            api.http
                .post(api.url("/v1/auth/login"))
                .header("content-type", "application/json")
                .body(format!(r#"{{"email": "{email}", "password": "{password}""#)),
        )
        .await?;
    assert_eq!(
        malformed.status,
        StatusCode::BAD_REQUEST,
        "{}",
        malformed.text
    );
    bodies.push(("malformed login".into(), malformed));
    let mistyped = api
        .call(
            None,
            Method::POST,
            "/v1/auth/login",
            Some(json!({"email": [email], "password": password})),
        )
        .await?;
    assert!(mistyped.status.is_client_error(), "{}", mistyped.text);
    bodies.push(("mistyped login".into(), mistyped));
    let weak = api
        .call(
            None,
            Method::POST,
            "/v1/auth/register",
            Some(json!({"tenant_name": "Weak", "email": "weak@secrets.test", "password": &wrong_password[..6]})),
        )
        .await?;
    assert!(weak.status.is_client_error(), "{}", weak.text);
    bodies.push(("weak password".into(), weak));

    let token = Some(access.as_str());
    let mastodon_token = format!("mst-{}", random(32));
    let x_access = format!("x-at-{}", random(32));
    let x_refresh = format!("x-rt-{}", random(32));
    let app_password = format!("{}-{}-{}", random(4), random(4), random(12));
    let unreachable_token = format!("mst-{}", random(32));
    watched.push(Watched::text("Mastodon access token", &mastodon_token));
    watched.push(Watched::text("X access token", &x_access));
    watched.push(Watched::text("X refresh token", &x_refresh));
    watched.push(Watched::text("Bluesky app password", &app_password));
    watched.push(Watched::text(
        "token for an unreachable instance",
        &unreachable_token,
    ));

    let mastodon = api
        .call(token, Method::POST, "/v1/accounts", Some(json!({"platform": "mastodon", "instance_url": sandbox_url, "access_token": mastodon_token})))
        .await?;
    assert_eq!(mastodon.status, StatusCode::CREATED, "{}", mastodon.text);
    // X's token is about to expire: publishing refreshes it with the client secret first.
    let x = api
        .call(token, Method::POST, "/v1/accounts", Some(json!({"platform": "x", "access_token": x_access, "refresh_token": x_refresh, "expires_in": 1})))
        .await?;
    assert_eq!(x.status, StatusCode::CREATED, "{}", x.text);
    let bluesky = api
        .call(token, Method::POST, "/v1/accounts", Some(json!({"platform": "bluesky", "identifier": "secrets.bsky.social", "password": app_password})))
        .await?;
    assert_eq!(bluesky.status, StatusCode::CREATED, "{}", bluesky.text);
    let closed = free_port()?;
    let unreachable = api
        .call(token, Method::POST, "/v1/accounts", Some(json!({"platform": "mastodon", "instance_url": format!("http://127.0.0.1:{closed}"), "access_token": unreachable_token})))
        .await?;
    assert!(!unreachable.status.is_success(), "{}", unreachable.text);
    bodies.push(("connect to an unreachable instance".into(), unreachable));
    let accounts = api.call(token, Method::GET, "/v1/accounts", None).await?;
    assert_eq!(accounts.status, StatusCode::OK, "{}", accounts.text);
    let account_ids: Vec<Value> = [&mastodon, &x, &bluesky]
        .iter()
        .map(|reply| reply.body["id"].clone())
        .collect();
    bodies.push(("connect mastodon".into(), mastodon));
    bodies.push(("connect x".into(), x));
    bodies.push(("connect bluesky".into(), bluesky));
    bodies.push(("list accounts".into(), accounts));

    let at = (chrono::Utc::now() + chrono::Duration::seconds(3)).to_rfc3339();
    let post = api
        .call(
            token,
            Method::POST,
            "/v1/posts",
            Some(json!({"text": "Secrets stay secret", "scheduled_at": at, "account_ids": account_ids})),
        )
        .await?;
    assert_eq!(post.status, StatusCode::CREATED, "{}", post.text);
    let post_path = format!("/v1/posts/{}", post.body["id"].as_str().unwrap_or_default());
    bodies.push(("create post".into(), post));
    let published = wait_for("post published to every account", WAIT, || async {
        let reply = api.call(token, Method::GET, &post_path, None).await.ok()?;
        (reply.body["status"] == "published").then_some(reply)
    })
    .await;
    let published = match published {
        Ok(reply) => reply,
        Err(error) => {
            let last = api.call(token, Method::GET, &post_path, None).await?;
            anyhow::bail!("{error}: {}", last.text);
        }
    };
    bodies.push(("published post".into(), published));

    // Failing requests: every one must answer without a secret in its body.
    let mut tampered = access.clone();
    let last = if tampered.ends_with('A') { "B" } else { "A" };
    tampered.pop();
    tampered.push_str(last);
    let failures: Vec<Failing<'_>> = vec![
        (
            "tampered token",
            Some(&tampered),
            Method::GET,
            "/v1/accounts".into(),
            None,
        ),
        (
            "refresh token as bearer",
            Some(&refresh),
            Method::GET,
            "/v1/accounts".into(),
            None,
        ),
        (
            "password as bearer",
            Some(&password),
            Method::GET,
            "/v1/posts".into(),
            None,
        ),
        ("no token", None, Method::GET, "/v1/accounts".into(), None),
        (
            "unknown post",
            token,
            Method::GET,
            format!("/v1/posts/{}", herald_contracts::PostId::new()),
            None,
        ),
        (
            "unknown route",
            token,
            Method::GET,
            "/v1/secrets".into(),
            None,
        ),
        (
            "method not allowed",
            token,
            Method::DELETE,
            "/v1/posts".into(),
            None,
        ),
        (
            "token in a query",
            token,
            Method::GET,
            format!("/v1/notifications?limit={refresh}"),
            None,
        ),
        (
            "invalid post",
            token,
            Method::POST,
            "/v1/posts".into(),
            Some(json!({"text": password, "scheduled_at": "tomorrow", "account_ids": []})),
        ),
        (
            "invalid account",
            token,
            Method::POST,
            "/v1/accounts".into(),
            Some(
                json!({"platform": "mastodon", "instance_url": "not a url", "access_token": mastodon_token}),
            ),
        ),
        (
            "unknown platform",
            token,
            Method::POST,
            "/v1/accounts".into(),
            Some(json!({"platform": "myspace", "access_token": mastodon_token})),
        ),
    ];
    for (what, bearer, method, path, body) in failures {
        let reply = api.call(bearer, method, &path, body).await?;
        assert!(
            reply.status.is_client_error() || reply.status.is_server_error(),
            "{what}: {} {}",
            reply.status,
            reply.text
        );
        bodies.push((what.to_owned(), reply));
    }
    sessions(api, email, &password, &refresh, watched, bodies).await?;
    Ok(self_check)
}

/// Refresh, refresh-token reuse, a password change (wrong and right current password) and
/// logout: every new token and password joins `watched`.
async fn sessions(
    api: &Api,
    email: &str,
    password: &str,
    refresh: &str,
    watched: &mut Vec<Watched>,
    bodies: &mut Vec<(String, Reply)>,
) -> anyhow::Result<()> {
    let refresh_path = "/v1/auth/refresh";
    let rotated = api
        .call(
            None,
            Method::POST,
            refresh_path,
            Some(json!({"refresh_token": refresh})),
        )
        .await?;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.text);
    for (name, field) in [
        ("refreshed access token", "access_token"),
        ("rotated refresh token", "refresh_token"),
    ] {
        let value = rotated.body[field].as_str().unwrap_or_default();
        assert!(!value.is_empty(), "{}", rotated.text);
        watched.push(if field == "access_token" {
            Watched::jwt(name, value)
        } else {
            Watched::text(name, value)
        });
    }
    // The old refresh token again: reuse, which revokes the family.
    let reused = api
        .call(
            None,
            Method::POST,
            refresh_path,
            Some(json!({"refresh_token": refresh})),
        )
        .await?;
    assert_eq!(reused.status, StatusCode::UNAUTHORIZED, "{}", reused.text);
    bodies.push(("reused refresh token".into(), reused));

    let login = api
        .call(
            None,
            Method::POST,
            "/v1/auth/login",
            Some(json!({"email": email, "password": password})),
        )
        .await?;
    let access = login.body["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(!access.is_empty(), "{}", login.text);
    watched.push(Watched::jwt("second access token", &access));
    if let Some(refresh) = login.body["refresh_token"].as_str() {
        watched.push(Watched::text("second refresh token", refresh));
    }
    let new_password = format!("pw-{}", random(24));
    watched.push(Watched::text("new password", &new_password));
    let wrong_current = format!("pw-{}", random(24));
    watched.push(Watched::text("wrong current password", &wrong_current));
    let refused = api
        .call(
            Some(&access),
            Method::POST,
            "/v1/me/password",
            Some(json!({"current_password": wrong_current, "new_password": new_password})),
        )
        .await?;
    assert!(refused.status.is_client_error(), "{}", refused.text);
    bodies.push((
        "password change with a wrong current password".into(),
        refused,
    ));
    let changed = api
        .call(
            Some(&access),
            Method::POST,
            "/v1/me/password",
            Some(json!({"current_password": password, "new_password": new_password})),
        )
        .await?;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text);
    let access = changed.body["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    watched.push(Watched::jwt(
        "access token after the password change",
        &access,
    ));
    if let Some(refresh) = changed.body["refresh_token"].as_str() {
        watched.push(Watched::text(
            "refresh token after the password change",
            refresh,
        ));
    }
    let logout = api
        .call(Some(&access), Method::POST, "/v1/auth/logout", None)
        .await?;
    assert!(logout.status.is_success(), "{}", logout.text);
    let after = api
        .call(Some(&access), Method::GET, "/v1/accounts", None)
        .await?;
    bodies.push(("token after logout".into(), after));
    Ok(())
}
