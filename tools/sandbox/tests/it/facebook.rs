//! The sandbox's Facebook Graph API over HTTP: page lookup, publishing to a page's feed
//! (duplicate refusal, usage headers), listing posts, engagement, tokens and faults.

use herald_sandbox::{Faults, Platform};
use reqwest::Response;
use serde_json::{Value, json};

use crate::helpers::{TestSandbox, header, spawn};

const PAGE: &str = "104857600";

async fn publish(app: &TestSandbox, token: &str, page: &str, message: &str) -> Response {
    app.client
        .post(app.url(&format!("/facebook/v23.0/{page}/feed")))
        .bearer_auth(token)
        .form(&[("message", message)])
        .send()
        .await
        .unwrap()
}

async fn get(app: &TestSandbox, token: &str, path: &str, query: &[(&str, &str)]) -> Response {
    app.client
        .get(app.url(&format!("/facebook{path}")))
        .bearer_auth(token)
        .query(query)
        .send()
        .await
        .unwrap()
}

async fn graph_error(response: Response) -> Value {
    let body: Value = response.json().await.unwrap();
    assert!(body["error"]["fbtrace_id"].is_string(), "{body}");
    body["error"].clone()
}

fn usage(response: &Response, page: &str) -> u64 {
    let header: Value =
        serde_json::from_str(header(response, "x-business-use-case-usage")).unwrap();
    header[page][0]["call_count"].as_u64().unwrap()
}

#[tokio::test]
async fn a_page_is_looked_up_by_id_and_unknown_ids_are_graph_errors() {
    let app = spawn().await;
    let response = get(
        &app,
        "fb-token",
        &format!("/v23.0/{PAGE}"),
        &[("fields", "id,name")],
    )
    .await;
    assert_eq!(response.status(), 200);
    let app_usage: Value = serde_json::from_str(header(&response, "x-app-usage")).unwrap();
    assert!(app_usage["call_count"].is_u64());
    assert_eq!(usage(&response, PAGE), 0);
    let page: Value = response.json().await.unwrap();
    assert_eq!(
        page,
        json!({ "id": PAGE, "name": format!("Sandbox Page {PAGE}") })
    );

    let response = get(&app, "fb-token", "/v19.0/not-a-page", &[]).await;
    assert_eq!(response.status(), 400);
    let error = graph_error(response).await;
    assert_eq!(error["code"], 100);
    assert_eq!(error["error_subcode"], 33);
    assert_eq!(error["type"], "GraphMethodException");

    let response = get(&app, "fb-token", &format!("/latest/{PAGE}"), &[]).await;
    assert_eq!(graph_error(response).await["code"], 2500);
    let response = get(
        &app,
        "fb-token",
        &format!("/v23.0/{PAGE}"),
        &[("fields", "secret")],
    )
    .await;
    assert_eq!(graph_error(response).await["code"], 100);
    app.stop().await;
}

#[tokio::test]
async fn a_published_post_is_recorded_and_listed_since_a_time() {
    let app = spawn().await;
    let before = chrono::Utc::now().timestamp() - 1;
    let response = publish(&app, "fb-token", PAGE, "hello page").await;
    assert_eq!(response.status(), 200);
    assert!(usage(&response, PAGE) < 100);
    let body: Value = response.json().await.unwrap();
    let id = body["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with(&format!("{PAGE}_")), "{id}");

    // JSON bodies and an access_token parameter work as well.
    let response = app
        .client
        .post(app.url(&format!("/facebook/v23.0/{PAGE}/feed")))
        .query(&[("access_token", "fb-token")])
        .json(&json!({ "message": "second post" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let ledger = app.handle.ledger();
    assert_eq!(ledger.len(), 2);
    assert_eq!(ledger[0].platform, Platform::Facebook);
    assert_eq!(ledger[0].account_id, PAGE);
    assert_eq!(ledger[0].status_id, id);
    assert_eq!(ledger[0].text, "hello page");

    let since = before.to_string();
    let response = get(
        &app,
        "fb-token",
        &format!("/v23.0/{PAGE}/posts"),
        &[
            ("fields", "id,message,created_time"),
            ("since", &since),
            ("limit", "100"),
        ],
    )
    .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert_eq!(data[0]["message"], "second post");
    assert_eq!(data[1]["id"], id.as_str());
    let created = data[1]["created_time"].as_str().unwrap();
    assert!(chrono::DateTime::parse_from_str(created, "%Y-%m-%dT%H:%M:%S%z").is_ok());

    let later = (before + 3600).to_string();
    let body: Value = get(
        &app,
        "fb-token",
        &format!("/v23.0/{PAGE}/posts"),
        &[("since", &later)],
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(body["data"], json!([]));
    app.stop().await;
}

#[tokio::test]
async fn listing_pages_through_cursors() {
    let app = spawn().await;
    for message in ["one", "two", "three"] {
        assert_eq!(publish(&app, "fb-token", PAGE, message).await.status(), 200);
    }
    let path = format!("/v23.0/{PAGE}/posts");
    let body: Value = get(&app, "fb-token", &path, &[("limit", "2")])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["data"][0]["message"], "three");
    assert_eq!(body["data"][1]["message"], "two");
    assert!(body["paging"]["next"].is_string());
    let after = body["paging"]["cursors"]["after"].as_str().unwrap();
    let body: Value = get(&app, "fb-token", &path, &[("limit", "2"), ("after", after)])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["data"].as_array().unwrap().len(), 1);
    assert_eq!(body["data"][0]["message"], "one");
    assert!(body["paging"].get("next").is_none());
    app.stop().await;
}

#[tokio::test]
async fn the_same_message_as_the_latest_post_is_a_duplicate() {
    let app = spawn().await;
    assert_eq!(
        publish(&app, "fb-token", PAGE, "same words").await.status(),
        200
    );
    let response = publish(&app, "fb-token", PAGE, "same words").await;
    assert_eq!(response.status(), 400);
    let error = graph_error(response).await;
    assert_eq!(error["code"], 506);
    assert_eq!(error["message"], "(#506) Duplicate status message");
    // Another page, or another message in between, is fine.
    assert_eq!(
        publish(&app, "fb-token", "7", "same words").await.status(),
        200
    );
    assert_eq!(
        publish(&app, "fb-token", PAGE, "something else")
            .await
            .status(),
        200
    );
    assert_eq!(
        publish(&app, "fb-token", PAGE, "same words").await.status(),
        200
    );
    assert_eq!(app.handle.ledger().len(), 4);
    app.stop().await;
}

#[tokio::test]
async fn a_post_reports_engagement_derived_from_its_id() {
    let app = spawn().await;
    let body: Value = publish(&app, "fb-token", PAGE, "count me")
        .await
        .json()
        .await
        .unwrap();
    let id = body["id"].as_str().unwrap();
    let number: u64 = id.split_once('_').unwrap().1.parse().unwrap();
    let response = get(
        &app,
        "fb-token",
        &format!("/v23.0/{id}"),
        &[(
            "fields",
            "reactions.summary(total_count),comments.summary(true),shares",
        )],
    )
    .await;
    assert_eq!(response.status(), 200);
    let post: Value = response.json().await.unwrap();
    let expected = herald_sandbox::facebook::engagement_for(number);
    assert_eq!(post["id"], id);
    assert_eq!(
        post["reactions"]["summary"]["total_count"],
        expected.reactions
    );
    assert_eq!(
        post["comments"]["summary"]["total_count"],
        expected.comments
    );
    assert_eq!(post["shares"]["count"], expected.shares);
    assert_eq!(post["reactions"]["data"], json!([]));

    let response = get(&app, "fb-token", &format!("/v23.0/{PAGE}_12345"), &[]).await;
    assert_eq!(graph_error(response).await["code"], 100);
    app.stop().await;
}

#[tokio::test]
async fn token_prefixes_take_away_what_they_name() {
    let app = spawn().await;
    let response = publish(&app, "expired-fb", PAGE, "nope").await;
    assert_eq!(response.status(), 400);
    assert!(header(&response, "www-authenticate").contains("invalid_token"));
    let error = graph_error(response).await;
    assert_eq!(error["code"], 190);
    assert_eq!(error["error_subcode"], 463);
    assert_eq!(error["type"], "OAuthException");

    let response = app
        .client
        .post(app.url(&format!("/facebook/v23.0/{PAGE}/feed")))
        .form(&[("message", "no token")])
        .send()
        .await
        .unwrap();
    assert_eq!(graph_error(response).await["code"], 104);

    let response = publish(&app, "readonly-fb", PAGE, "may not post").await;
    assert_eq!(response.status(), 403);
    assert_eq!(graph_error(response).await["code"], 200);

    assert_eq!(
        publish(&app, "noscope-fb", PAGE, "may post").await.status(),
        200
    );
    let response = get(&app, "noscope-fb", &format!("/v23.0/{PAGE}/posts"), &[]).await;
    assert_eq!(response.status(), 403);
    assert_eq!(graph_error(response).await["code"], 10);
    // The page itself is still visible to it.
    let response = get(&app, "noscope-fb", &format!("/v23.0/{PAGE}"), &[]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(app.handle.ledger().len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn faults_apply_to_publishing() {
    let app = spawn().await;
    app.handle
        .set_faults(
            Platform::Facebook,
            Faults {
                error_rate: 1.0,
                ..Faults::default()
            },
        )
        .unwrap();
    let response = publish(&app, "fb-token", PAGE, "outage").await;
    assert_eq!(response.status(), 500);
    let error = graph_error(response).await;
    assert_eq!(error["code"], 2);
    assert_eq!(error["is_transient"], true);

    app.handle
        .set_faults(
            Platform::Facebook,
            Faults {
                rate_limit_rate: 1.0,
                ..Faults::default()
            },
        )
        .unwrap();
    let response = publish(&app, "fb-token", PAGE, "throttled").await;
    assert_eq!(response.status(), 400);
    assert_eq!(usage(&response, PAGE), 100);
    let buc: Value = serde_json::from_str(header(&response, "x-business-use-case-usage")).unwrap();
    assert!(
        buc[PAGE][0]["estimated_time_to_regain_access"]
            .as_u64()
            .unwrap()
            > 0
    );
    assert_eq!(graph_error(response).await["code"], 80001);
    assert!(app.handle.ledger().is_empty());

    app.handle
        .set_faults(
            Platform::Facebook,
            Faults {
                drop_after_commit_rate: 1.0,
                ..Faults::default()
            },
        )
        .unwrap();
    let dropped = app
        .client
        .post(app.url(&format!("/facebook/v23.0/{PAGE}/feed")))
        .bearer_auth("fb-token")
        .form(&[("message", "did it post?")])
        .send()
        .await;
    assert!(dropped.is_err(), "the client never sees an answer");
    app.handle
        .set_faults(Platform::Facebook, Faults::default())
        .unwrap();
    let ledger = app.handle.ledger();
    assert_eq!(ledger.len(), 1);
    let body: Value = get(&app, "fb-token", &format!("/v23.0/{PAGE}/posts"), &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["data"][0]["id"], ledger[0].status_id.as_str());
    app.stop().await;
}
