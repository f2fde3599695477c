//! The sandbox's instagram API over HTTP.

use std::time::Duration;

use herald_sandbox::{Faults, Platform};
use reqwest::Response;
use serde_json::{Value, json};

use crate::helpers::{TestSandbox, header, spawn};

const V: &str = "v23.0";
const IMAGE: &str = "https://cdn.example.com/rendered/post.jpg";

fn url(app: &TestSandbox, path: &str) -> String {
    app.url(&format!("/instagram{path}"))
}

async fn get(app: &TestSandbox, token: &str, path: &str) -> Response {
    app.client
        .get(url(app, path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn user_id(app: &TestSandbox, token: &str) -> String {
    let me: Value = get(app, token, &format!("/{V}/me?fields=id,username"))
        .await
        .json()
        .await
        .unwrap();
    me["id"].as_str().unwrap().to_owned()
}

async fn create(app: &TestSandbox, token: &str, user: &str, form: &[(&str, &str)]) -> Response {
    app.client
        .post(url(app, &format!("/{V}/{user}/media")))
        .bearer_auth(token)
        .form(form)
        .send()
        .await
        .unwrap()
}

async fn container(app: &TestSandbox, token: &str, user: &str, caption: &str) -> String {
    let response = create(
        app,
        token,
        user,
        &[("image_url", IMAGE), ("caption", caption)],
    )
    .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["id"].as_str().unwrap().to_owned()
}

async fn status(app: &TestSandbox, token: &str, id: &str) -> Value {
    let response = get(app, token, &format!("/{V}/{id}?fields=status_code,status")).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn publish(app: &TestSandbox, token: &str, user: &str, creation_id: &str) -> Response {
    app.client
        .post(url(app, &format!("/{V}/{user}/media_publish")))
        .bearer_auth(token)
        .form(&[("creation_id", creation_id)])
        .send()
        .await
        .unwrap()
}

async fn set_processing(app: &TestSandbox, millis: u64) {
    let response = app
        .client
        .put(url(app, "/__sandbox/processing"))
        .json(&json!({ "processing_ms": millis }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

async fn graph_error(response: Response) -> Value {
    let body: Value = response.json().await.unwrap();
    assert!(body["error"]["fbtrace_id"].is_string(), "{body}");
    body["error"].clone()
}

#[tokio::test]
async fn users_are_looked_up_and_bad_tokens_refused() {
    let app = spawn().await;
    let id = user_id(&app, "token-a").await;
    assert_eq!(id.len(), 17);
    let response = get(&app, "token-a", &format!("/{V}/{id}?fields=id,username")).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-app-usage"));
    let user: Value = response.json().await.unwrap();
    assert_eq!(user["id"], id.as_str());
    assert!(user["username"].as_str().unwrap().starts_with("user_"));

    // The token in the query string works too, as Graph's docs send it.
    let by_query = app
        .client
        .get(url(
            &app,
            &format!("/{V}/{id}?fields=id&access_token=token-a"),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(by_query.status(), 200);

    let other = get(&app, "token-b", &format!("/{V}/{id}?fields=id")).await;
    assert_eq!(other.status(), 400);
    let error = graph_error(other).await;
    assert_eq!(
        (error["code"].clone(), error["error_subcode"].clone()),
        (json!(100), json!(33))
    );

    let expired = get(&app, "expired-token-a", &format!("/{V}/me")).await;
    assert_eq!(expired.status(), 400);
    assert!(header(&expired, "www-authenticate").contains("invalid_token"));
    assert_eq!(graph_error(expired).await["code"], 190);

    let anonymous = app
        .client
        .get(url(&app, &format!("/{V}/me")))
        .send()
        .await
        .unwrap();
    assert_eq!(graph_error(anonymous).await["code"], 104);

    let unknown_field = get(&app, "token-a", &format!("/{V}/me?fields=nope")).await;
    assert_eq!(graph_error(unknown_field).await["code"], 100);
    let bad_version = get(&app, "token-a", "/23/me").await;
    assert_eq!(graph_error(bad_version).await["code"], 2500);
    app.stop().await;
}

#[tokio::test]
async fn a_container_processes_then_publishes_exactly_once() {
    let app = spawn().await;
    let user = user_id(&app, "token-a").await;
    let id = container(&app, "token-a", &user, "hello #herald").await;
    let pending = status(&app, "token-a", &id).await;
    assert_eq!(pending["status_code"], "IN_PROGRESS");
    assert_eq!(pending["id"], id.as_str());

    let early = publish(&app, "token-a", &user, &id).await;
    assert_eq!(early.status(), 400);
    let error = graph_error(early).await;
    assert_eq!(
        (error["code"].clone(), error["error_subcode"].clone()),
        (json!(9007), json!(2_207_027))
    );

    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        status(&app, "token-a", &id).await["status_code"],
        "FINISHED"
    );
    let response = publish(&app, "token-a", &user, &id).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-business-use-case-usage"));
    let media: Value = response.json().await.unwrap();
    let media_id = media["id"].as_str().unwrap().to_owned();
    assert_ne!(media_id, id, "a media id is not its container's id");
    assert_eq!(
        status(&app, "token-a", &id).await["status_code"],
        "PUBLISHED"
    );

    // A container publishes at most once.
    let again = publish(&app, "token-a", &user, &id).await;
    assert_eq!(again.status(), 400);
    let error = graph_error(again).await;
    assert_eq!(error["error_subcode"], 2_207_008);

    let ledger = app.ledger("?platform=instagram").await;
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0]["status_id"], media_id.as_str());
    assert_eq!(ledger[0]["account_id"], user.as_str());
    assert_eq!(ledger[0]["text"], "hello #herald");
    assert_eq!(ledger[0]["idempotency_key"], id.as_str());
    assert_eq!(ledger[0]["media_ids"], json!([IMAGE]));

    let node: Value = get(
        &app,
        "token-a",
        &format!("/{V}/{media_id}?fields=caption,permalink,timestamp"),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(node["caption"], "hello #herald");
    assert!(
        node["permalink"]
            .as_str()
            .unwrap()
            .starts_with("https://www.instagram.com/p/")
    );
    let timestamp = node["timestamp"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_str(timestamp, "%Y-%m-%dT%H:%M:%S%z").is_ok(),
        "{timestamp}"
    );
    app.stop().await;
}

#[tokio::test]
async fn containers_validate_content_and_can_fail_or_expire() {
    let app = spawn().await;
    let user = user_id(&app, "token-a").await;
    let no_image = create(&app, "token-a", &user, &[("caption", "text only")]).await;
    assert_eq!(graph_error(no_image).await["code"], 100);
    let relative = create(&app, "token-a", &user, &[("image_url", "/a.jpg")]).await;
    assert_eq!(graph_error(relative).await["error_subcode"], 2_207_052);
    let long = "x".repeat(2201);
    let too_long = create(
        &app,
        "token-a",
        &user,
        &[("image_url", IMAGE), ("caption", &long)],
    )
    .await;
    assert_eq!(graph_error(too_long).await["code"], 100);
    let elsewhere = create(
        &app,
        "token-a",
        "17841400000000001",
        &[("image_url", IMAGE)],
    )
    .await;
    assert_eq!(graph_error(elsewhere).await["error_subcode"], 33);

    set_processing(&app, 0).await;
    let failing = create(
        &app,
        "token-a",
        &user,
        &[("image_url", "https://cdn.example.com/sandbox-fail.jpg")],
    )
    .await;
    let failing: Value = failing.json().await.unwrap();
    let failing = failing["id"].as_str().unwrap();
    let failed = status(&app, "token-a", failing).await;
    assert_eq!(failed["status_code"], "ERROR");
    assert!(failed["status"].as_str().unwrap().contains("2207052"));
    assert_eq!(
        graph_error(publish(&app, "token-a", &user, failing).await).await["code"],
        9004
    );

    let id = container(&app, "token-a", &user, "too late").await;
    let expired = app
        .client
        .post(url(&app, &format!("/__sandbox/containers/{id}/expire")))
        .send()
        .await
        .unwrap();
    assert_eq!(expired.status(), 200);
    assert_eq!(status(&app, "token-a", &id).await["status_code"], "EXPIRED");
    let refused = publish(&app, "token-a", &user, &id).await;
    assert_eq!(graph_error(refused).await["error_subcode"], 2_207_008);
    assert!(app.ledger("").await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn fifty_publishes_a_day_then_the_limit_error() {
    let app = spawn().await;
    set_processing(&app, 0).await;
    let user = user_id(&app, "token-a").await;
    for n in 0..50 {
        let id = container(&app, "token-a", &user, &format!("post {n}")).await;
        assert_eq!(publish(&app, "token-a", &user, &id).await.status(), 200);
    }
    let limit: Value = get(
        &app,
        "token-a",
        &format!("/{V}/{user}/content_publishing_limit?fields=config,quota_usage"),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        limit,
        json!({ "data": [{ "quota_usage": 50, "config": { "quota_total": 50, "quota_duration": 86400 } }] })
    );
    let id = container(&app, "token-a", &user, "one too many").await;
    let refused = publish(&app, "token-a", &user, &id).await;
    assert_eq!(refused.status(), 400);
    let error = graph_error(refused).await;
    assert_eq!(
        (error["code"].clone(), error["error_subcode"].clone()),
        (json!(9), json!(2_207_042))
    );
    assert_eq!(
        status(&app, "token-a", &id).await["status_code"],
        "FINISHED"
    );
    assert_eq!(app.ledger("").await.len(), 50);
    // Another account has its own quota.
    let other = user_id(&app, "token-b").await;
    let id = container(&app, "token-b", &other, "mine").await;
    assert_eq!(publish(&app, "token-b", &other, &id).await.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn faults_apply_to_both_steps() {
    let app = spawn().await;
    set_processing(&app, 0).await;
    let user = user_id(&app, "token-a").await;
    let ready = container(&app, "token-a", &user, "faulted").await;
    let set = |faults: Faults| app.handle.set_faults(Platform::Instagram, faults).unwrap();

    set(Faults {
        error_rate: 1.0,
        ..Faults::default()
    });
    let outage = create(&app, "token-a", &user, &[("image_url", IMAGE)]).await;
    assert_eq!(outage.status(), 503);
    assert_eq!(graph_error(outage).await["code"], 2);
    assert_eq!(publish(&app, "token-a", &user, &ready).await.status(), 503);

    set(Faults {
        rate_limit_rate: 1.0,
        ..Faults::default()
    });
    let throttled = publish(&app, "token-a", &user, &ready).await;
    assert_eq!(throttled.status(), 403);
    let usage: Value =
        serde_json::from_str(header(&throttled, "x-business-use-case-usage")).unwrap();
    assert!(
        usage[&user][0]["estimated_time_to_regain_access"]
            .as_u64()
            .unwrap()
            > 0
    );
    let app_usage: Value = serde_json::from_str(header(&throttled, "x-app-usage")).unwrap();
    assert_eq!(app_usage["call_count"], 100);
    let error = graph_error(throttled).await;
    assert_eq!(
        (error["code"].clone(), error["is_transient"].clone()),
        (json!(4), json!(true))
    );
    assert_eq!(
        create(&app, "token-a", &user, &[("image_url", IMAGE)])
            .await
            .status(),
        403
    );

    set(Faults {
        drop_after_commit_rate: 1.0,
        ..Faults::default()
    });
    let dropped = app
        .client
        .post(url(&app, &format!("/{V}/{user}/media_publish")))
        .bearer_auth("token-a")
        .form(&[("creation_id", ready.as_str())])
        .send()
        .await
        .unwrap_err();
    assert!(!dropped.is_timeout(), "{dropped}");
    let dropped_create = app
        .client
        .post(url(&app, &format!("/{V}/{user}/media")))
        .bearer_auth("token-a")
        .form(&[("image_url", IMAGE)])
        .send()
        .await;
    assert!(dropped_create.is_err());

    set(Faults::default());
    assert_eq!(
        status(&app, "token-a", &ready).await["status_code"],
        "PUBLISHED"
    );
    let ledger = app.ledger("").await;
    assert_eq!(ledger.len(), 1, "the dropped publish committed once");
    assert_eq!(ledger[0]["idempotency_key"], ready.as_str());
    app.stop().await;
}

#[tokio::test]
async fn media_are_listed_newest_first_in_pages() {
    let app = spawn().await;
    set_processing(&app, 0).await;
    let user = user_id(&app, "token-a").await;
    let before = chrono::Utc::now().timestamp() - 1;
    for n in 0..3 {
        let id = container(&app, "token-a", &user, &format!("listed {n}")).await;
        publish(&app, "token-a", &user, &id).await;
    }
    let path = format!("/{V}/{user}/media?fields=id,caption,timestamp&limit=2&since={before}");
    let first: Value = get(&app, "token-a", &path).await.json().await.unwrap();
    let captions: Vec<_> = first["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["caption"].clone())
        .collect();
    assert_eq!(captions, vec![json!("listed 2"), json!("listed 1")]);
    let next = first["paging"]["next"].as_str().unwrap();
    assert!(!next.contains("access_token"));
    let after = first["paging"]["cursors"]["after"].as_str().unwrap();
    let second: Value = get(&app, "token-a", &format!("{path}&after={after}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(second["data"][0]["caption"], "listed 0");
    assert!(second["paging"].get("next").is_none());

    let future = chrono::Utc::now().timestamp() + 60;
    let empty: Value = get(
        &app,
        "token-a",
        &format!("/{V}/{user}/media?since={future}"),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(empty, json!({ "data": [] }));
    app.stop().await;
}

#[tokio::test]
async fn insights_refresh_and_tokens_without_read_permission() {
    let app = spawn().await;
    set_processing(&app, 0).await;
    let user = user_id(&app, "token-a").await;
    let id = container(&app, "token-a", &user, "measured").await;
    let media: Value = publish(&app, "token-a", &user, &id)
        .await
        .json()
        .await
        .unwrap();
    let media_id = media["id"].as_str().unwrap();
    let insights: Value = get(
        &app,
        "token-a",
        &format!("/{V}/{media_id}/insights?metric=views,reach,likes,comments,shares,saved"),
    )
    .await
    .json()
    .await
    .unwrap();
    let data = insights["data"].as_array().unwrap();
    assert_eq!(data.len(), 6);
    assert_eq!(data[2]["name"], "likes");
    assert_eq!(
        data[2]["values"][0]["value"],
        herald_sandbox::instagram::insight_value(media_id, "likes")
    );
    let bad = get(
        &app,
        "token-a",
        &format!("/{V}/{media_id}/insights?metric=impressions"),
    )
    .await;
    assert_eq!(graph_error(bad).await["code"], 100);

    let refresh = |grant: &'static str, token: &'static str| {
        app.client
            .get(url(&app, "/refresh_access_token"))
            .query(&[("grant_type", grant), ("access_token", token)])
            .send()
    };
    let refreshed: Value = refresh("ig_refresh_token", "token-a")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(refreshed["token_type"], "bearer");
    assert_eq!(refreshed["expires_in"], 5_184_000);
    let new_token = refreshed["access_token"].as_str().unwrap();
    assert_ne!(new_token, "token-a");
    assert_eq!(user_id(&app, new_token).await, user);
    assert_eq!(
        graph_error(refresh("th_refresh_token", "token-a").await.unwrap()).await["code"],
        100
    );
    assert_eq!(
        graph_error(refresh("ig_refresh_token", "expired-a").await.unwrap()).await["code"],
        190
    );

    // A token without the read permission can publish but not look anything up.
    let noscope = "noscope-token-c";
    let owner = user_id(&app, noscope).await;
    let id = container(&app, noscope, &owner, "blind").await;
    let denied = get(&app, noscope, &format!("/{V}/{id}?fields=status_code")).await;
    assert_eq!(denied.status(), 403);
    assert_eq!(graph_error(denied).await["code"], 10);
    let listing = get(&app, noscope, &format!("/{V}/{owner}/media")).await;
    assert_eq!(graph_error(listing).await["code"], 10);
    assert_eq!(publish(&app, noscope, &owner, &id).await.status(), 200);
    app.stop().await;
}
