//! The sandbox's threads API over HTTP.

use std::time::Duration;

use herald_sandbox::{Faults, Platform};
use reqwest::Response;
use serde_json::{Value, json};

use crate::helpers::{TestSandbox, header, spawn};

const V: &str = "v1.0";

fn url(app: &TestSandbox, path: &str) -> String {
    app.url(&format!("/threads{path}"))
}

async fn get(app: &TestSandbox, token: &str, path: &str) -> Response {
    app.client
        .get(url(app, path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn me(app: &TestSandbox, token: &str) -> Value {
    let response = get(app, token, &format!("/{V}/me?fields=id,username")).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn create(app: &TestSandbox, token: &str, user: &str, form: &[(&str, &str)]) -> Response {
    app.client
        .post(url(app, &format!("/{V}/{user}/threads")))
        .bearer_auth(token)
        .form(form)
        .send()
        .await
        .unwrap()
}

async fn text_container(app: &TestSandbox, token: &str, user: &str, text: &str) -> String {
    let response = create(app, token, user, &[("media_type", "TEXT"), ("text", text)]).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["id"].as_str().unwrap().to_owned()
}

async fn status(app: &TestSandbox, token: &str, id: &str) -> Value {
    let response = get(
        app,
        token,
        &format!("/{V}/{id}?fields=status,error_message"),
    )
    .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn publish(app: &TestSandbox, token: &str, user: &str, creation_id: &str) -> Response {
    app.client
        .post(url(app, &format!("/{V}/{user}/threads_publish")))
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

async fn error_of(response: Response) -> Value {
    let body: Value = response.json().await.unwrap();
    body["error"].clone()
}

#[tokio::test]
async fn a_text_post_processes_then_publishes_exactly_once() {
    let app = spawn().await;
    let user = me(&app, "token-t").await;
    let user_id = user["id"].as_str().unwrap();
    assert!(user["username"].as_str().unwrap().starts_with("user_"));
    let id = text_container(&app, "token-t", user_id, "a thread 🧵").await;
    let pending = status(&app, "token-t", &id).await;
    assert_eq!(pending, json!({ "id": id, "status": "IN_PROGRESS" }));
    assert_eq!(
        error_of(publish(&app, "token-t", user_id, &id).await).await["code"],
        9007
    );

    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(status(&app, "token-t", &id).await["status"], "FINISHED");
    let response = publish(&app, "token-t", user_id, &id).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-app-usage"));
    let media: Value = response.json().await.unwrap();
    let media_id = media["id"].as_str().unwrap();
    assert_ne!(media_id, id);
    assert_eq!(status(&app, "token-t", &id).await["status"], "PUBLISHED");
    let again = publish(&app, "token-t", user_id, &id).await;
    assert_eq!(again.status(), 400);
    assert_eq!(error_of(again).await["error_subcode"], 2_207_008);

    let ledger = app.ledger("?platform=threads").await;
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0]["text"], "a thread 🧵");
    assert_eq!(ledger[0]["media_ids"], json!([]));
    assert_eq!(ledger[0]["idempotency_key"], id.as_str());

    let listed: Value = get(
        &app,
        "token-t",
        &format!("/{V}/{user_id}/threads?fields=id,text,timestamp,permalink"),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(listed["data"][0]["id"], media_id);
    assert_eq!(listed["data"][0]["text"], "a thread 🧵");
    let permalink = listed["data"][0]["permalink"].as_str().unwrap();
    assert!(permalink.starts_with(&format!(
        "https://www.threads.net/@{}/post/",
        user["username"].as_str().unwrap()
    )));
    let node: Value = get(
        &app,
        "token-t",
        &format!("/{V}/{media_id}?fields=media_type"),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(node["media_type"], "TEXT_POST");
    app.stop().await;
}

#[tokio::test]
async fn containers_validate_content() {
    let app = spawn().await;
    set_processing(&app, 0).await;
    let user = me(&app, "token-t").await["id"].as_str().unwrap().to_owned();
    let no_type = create(&app, "token-t", &user, &[("text", "hi")]).await;
    assert_eq!(error_of(no_type).await["code"], 100);
    let long = "x".repeat(501);
    let too_long = create(
        &app,
        "token-t",
        &user,
        &[("media_type", "TEXT"), ("text", &long)],
    )
    .await;
    assert_eq!(too_long.status(), 400);
    // Emoji count as their UTF-8 bytes: 125 of them fill the 500.
    let emoji = "🧵".repeat(126);
    let emoji_long = create(
        &app,
        "token-t",
        &user,
        &[("media_type", "TEXT"), ("text", &emoji)],
    )
    .await;
    assert_eq!(emoji_long.status(), 400);
    let exactly = "x".repeat(500);
    text_container(&app, "token-t", &user, &exactly).await;
    let no_image = create(
        &app,
        "token-t",
        &user,
        &[("media_type", "IMAGE"), ("text", "hi")],
    )
    .await;
    assert_eq!(error_of(no_image).await["code"], 100);
    let image = create(
        &app,
        "token-t",
        &user,
        &[
            ("media_type", "IMAGE"),
            ("image_url", "https://cdn.example.com/a.png"),
            ("text", "pic"),
        ],
    )
    .await;
    assert_eq!(image.status(), 200);
    let failing = create(
        &app,
        "token-t",
        &user,
        &[
            ("media_type", "IMAGE"),
            ("image_url", "https://cdn.example.com/sandbox-fail.png"),
        ],
    )
    .await;
    let failing: Value = failing.json().await.unwrap();
    let failed = status(&app, "token-t", failing["id"].as_str().unwrap()).await;
    assert_eq!(
        (failed["status"].clone(), failed["error_message"].clone()),
        (json!("ERROR"), json!("UNKNOWN"))
    );
    app.stop().await;
}

#[tokio::test]
async fn two_hundred_fifty_publishes_a_day_then_the_limit_error() {
    let app = spawn().await;
    set_processing(&app, 0).await;
    let user = me(&app, "token-t").await["id"].as_str().unwrap().to_owned();
    for n in 0..250 {
        let id = text_container(&app, "token-t", &user, &format!("post {n}")).await;
        assert_eq!(publish(&app, "token-t", &user, &id).await.status(), 200);
    }
    let limit: Value = get(
        &app,
        "token-t",
        &format!("/{V}/{user}/threads_publishing_limit?fields=quota_usage,config"),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        limit,
        json!({ "data": [{ "quota_usage": 250, "config": { "quota_total": 250, "quota_duration": 86400 } }] })
    );
    let id = text_container(&app, "token-t", &user, "one too many").await;
    let refused = publish(&app, "token-t", &user, &id).await;
    let error = error_of(refused).await;
    assert_eq!(
        (error["code"].clone(), error["error_subcode"].clone()),
        (json!(9), json!(2_207_042))
    );
    assert_eq!(app.ledger("?platform=threads").await.len(), 250);
    app.stop().await;
}

#[tokio::test]
async fn faults_expiry_refresh_and_insights() {
    let app = spawn().await;
    set_processing(&app, 0).await;
    let user = me(&app, "token-t").await["id"].as_str().unwrap().to_owned();

    app.handle
        .set_faults(
            Platform::Threads,
            Faults {
                rate_limit_rate: 1.0,
                ..Faults::default()
            },
        )
        .unwrap();
    let throttled = create(
        &app,
        "token-t",
        &user,
        &[("media_type", "TEXT"), ("text", "x")],
    )
    .await;
    assert_eq!(throttled.status(), 403);
    let usage: Value = serde_json::from_str(header(&throttled, "x-app-usage")).unwrap();
    assert_eq!(usage["call_count"], 100);
    assert_eq!(error_of(throttled).await["code"], 4);

    app.handle
        .set_faults(
            Platform::Threads,
            Faults {
                drop_after_commit_rate: 1.0,
                ..Faults::default()
            },
        )
        .unwrap();
    assert!(
        app.client
            .post(url(&app, &format!("/{V}/{user}/threads")))
            .bearer_auth("token-t")
            .form(&[("media_type", "TEXT"), ("text", "dropped")])
            .send()
            .await
            .is_err()
    );
    app.handle
        .set_faults(Platform::Threads, Faults::default())
        .unwrap();

    let id = text_container(&app, "token-t", &user, "expiring").await;
    let expire = app
        .client
        .post(url(&app, &format!("/__sandbox/containers/{id}/expire")))
        .send()
        .await
        .unwrap();
    assert_eq!(expire.status(), 200);
    assert_eq!(status(&app, "token-t", &id).await["status"], "EXPIRED");
    assert_eq!(
        error_of(publish(&app, "token-t", &user, &id).await).await["error_subcode"],
        2_207_008
    );

    let id = text_container(&app, "token-t", &user, "measured").await;
    let media: Value = publish(&app, "token-t", &user, &id)
        .await
        .json()
        .await
        .unwrap();
    let media_id = media["id"].as_str().unwrap();
    let insights: Value = get(
        &app,
        "token-t",
        &format!("/{V}/{media_id}/insights?metric=views,likes,replies,reposts,quotes,shares"),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(insights["data"].as_array().unwrap().len(), 6);
    assert_eq!(insights["data"][3]["name"], "reposts");
    assert_eq!(
        insights["data"][3]["values"][0]["value"],
        herald_sandbox::threads::insight_value(media_id, "reposts")
    );
    let reach = get(
        &app,
        "token-t",
        &format!("/{V}/{media_id}/insights?metric=reach"),
    )
    .await;
    assert_eq!(error_of(reach).await["code"], 100);

    let refreshed: Value = app
        .client
        .get(url(&app, "/refresh_access_token"))
        .query(&[
            ("grant_type", "th_refresh_token"),
            ("access_token", "token-t"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = refreshed["access_token"].as_str().unwrap();
    assert_eq!(me(&app, token).await["id"], user.as_str());
    assert_eq!(app.ledger("").await.len(), 1);
    app.stop().await;
}
