//! The sandbox's LinkedIn API over HTTP: userinfo and organizations, the versioned Posts API
//! (create, duplicate refusal, little text, the author finder), share statistics, tokens,
//! versions and faults.

use chrono::Utc;
use herald_sandbox::{Faults, Platform};
use reqwest::{RequestBuilder, Response};
use serde_json::{Value, json};

use crate::helpers::{TestSandbox, header, spawn};

fn version() -> String {
    herald_sandbox::linkedin::current_version(Utc::now())
}

fn versioned(request: RequestBuilder, token: &str) -> RequestBuilder {
    request
        .bearer_auth(token)
        .header("LinkedIn-Version", version())
        .header("X-Restli-Protocol-Version", "2.0.0")
}

fn post_body(author: &str, commentary: &str) -> Value {
    json!({
        "author": author,
        "commentary": commentary,
        "visibility": "PUBLIC",
        "distribution": {
            "feedDistribution": "MAIN_FEED",
            "targetEntities": [],
            "thirdPartyDistributionChannels": [],
        },
        "lifecycleState": "PUBLISHED",
        "isReshareDisabledByAuthor": false,
    })
}

async fn person(app: &TestSandbox, token: &str) -> String {
    let response = app
        .client
        .get(app.url("/linkedin/v2/userinfo"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let info: Value = response.json().await.unwrap();
    format!("urn:li:person:{}", info["sub"].as_str().unwrap())
}

async fn create(app: &TestSandbox, token: &str, author: &str, commentary: &str) -> Response {
    versioned(app.client.post(app.url("/linkedin/rest/posts")), token)
        .json(&post_body(author, commentary))
        .send()
        .await
        .unwrap()
}

async fn find(app: &TestSandbox, token: &str, author: &str, extra: &[(&str, &str)]) -> Response {
    let mut query = vec![
        ("q", "author"),
        ("author", author),
        ("sortBy", "LAST_MODIFIED"),
    ];
    query.extend_from_slice(extra);
    versioned(app.client.get(app.url("/linkedin/rest/posts")), token)
        .query(&query)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_created_post_answers_201_with_its_urn_and_the_finder_lists_it() {
    let app = spawn().await;
    let author = person(&app, "li-token-a").await;
    assert_eq!(author, person(&app, "li-token-a").await, "stable member");

    let response = create(&app, "li-token-a", &author, "hello linkedin").await;
    assert_eq!(response.status(), 201);
    let urn = header(&response, "x-restli-id").to_owned();
    assert!(urn.starts_with("urn:li:share:"), "{urn}");
    assert!(
        response.bytes().await.unwrap().is_empty(),
        "201 has no body"
    );

    let ledger = app.handle.ledger();
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].platform, Platform::Linkedin);
    assert_eq!(ledger[0].account_id, author);
    assert_eq!(ledger[0].status_id, urn);
    assert_eq!(ledger[0].text, "hello linkedin");

    let response = find(&app, "li-token-a", &author, &[]).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let post = &body["elements"][0];
    assert_eq!(post["id"], urn.as_str());
    assert_eq!(post["author"], author.as_str());
    assert_eq!(post["commentary"], "hello linkedin");
    assert_eq!(post["lifecycleState"], "PUBLISHED");
    let created_at = post["createdAt"].as_i64().unwrap();
    assert!((Utc::now().timestamp_millis() - created_at).abs() < 60_000);
    app.stop().await;
}

#[tokio::test]
async fn missing_and_retired_versions_are_refused() {
    let app = spawn().await;
    let author = person(&app, "li-token-v").await;
    let response = app
        .client
        .post(app.url("/linkedin/rest/posts"))
        .bearer_auth("li-token-v")
        .json(&post_body(&author, "no version"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "VERSION_MISSING");

    let response = app
        .client
        .post(app.url("/linkedin/rest/posts"))
        .bearer_auth("li-token-v")
        .header("LinkedIn-Version", "202001")
        .json(&post_body(&author, "old version"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 426);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({
            "status": 426,
            "code": "NONEXISTENT_VERSION",
            "message": "Requested version 20200101 is not active",
        })
    );
    assert!(app.handle.ledger().is_empty());
    app.stop().await;
}

#[tokio::test]
async fn the_same_commentary_twice_is_a_duplicate_of_the_first_post() {
    let app = spawn().await;
    let author = person(&app, "li-token-d").await;
    let first = create(&app, "li-token-d", &author, "only once").await;
    let urn = header(&first, "x-restli-id").to_owned();
    let second = create(&app, "li-token-d", &author, "only once").await;
    assert_eq!(second.status(), 422);
    let body: Value = second.json().await.unwrap();
    assert_eq!(body["status"], 422);
    assert_eq!(
        body["errorDetails"]["inputErrors"][0]["code"],
        "DUPLICATE_POST"
    );
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .ends_with(&format!("Content is a duplicate of {urn}")),
        "{body}"
    );
    // Another member may say the same thing.
    let other = person(&app, "li-token-d2").await;
    assert_eq!(
        create(&app, "li-token-d2", &other, "only once")
            .await
            .status(),
        201
    );
    assert_eq!(app.handle.ledger().len(), 2);
    app.stop().await;
}

#[tokio::test]
async fn readers_see_escaped_text_whole_and_unescaped_text_cut() {
    let app = spawn().await;
    let author = person(&app, "li-token-t").await;
    let escaped = r"launch \(today\) \#rust";
    assert_eq!(
        create(&app, "li-token-t", &author, escaped).await.status(),
        201
    );
    assert_eq!(
        create(&app, "li-token-t", &author, "launch (today) at 5")
            .await
            .status(),
        201
    );
    let ledger = app.handle.ledger();
    assert_eq!(ledger[0].text, "launch (today) #rust");
    assert_eq!(ledger[1].text, "launch ");
    // The API hands back what was sent.
    let body: Value = find(&app, "li-token-t", &author, &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["elements"][1]["commentary"], escaped);
    app.stop().await;
}

#[tokio::test]
async fn token_prefixes_take_away_what_they_name() {
    let app = spawn().await;
    let response = app
        .client
        .get(app.url("/linkedin/v2/userinfo"))
        .bearer_auth("expired-li")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "EXPIRED_ACCESS_TOKEN");
    assert_eq!(body["serviceErrorCode"], 65601);
    let expired = create(&app, "expired-li", "urn:li:person:x", "nope").await;
    assert_eq!(expired.status(), 401);

    let reader = person(&app, "noscope-li").await;
    assert_eq!(
        create(&app, "noscope-li", &reader, "may post")
            .await
            .status(),
        201
    );
    let response = find(&app, "noscope-li", &reader, &[]).await;
    assert_eq!(response.status(), 403);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "ACCESS_DENIED");
    assert_eq!(body["serviceErrorCode"], 100);
    assert!(
        body["message"].as_str().unwrap().starts_with(
            "Not enough permissions to access: partnerApiPostsExternal.FINDER-author."
        )
    );

    let writer = person(&app, "readonly-li").await;
    let response = create(&app, "readonly-li", &writer, "may not post").await;
    assert_eq!(response.status(), 403);

    // A member cannot post as someone else.
    let response = create(&app, "li-token-p", &reader, "impersonation").await;
    assert_eq!(response.status(), 403);
    assert_eq!(app.handle.ledger().len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn organizations_post_and_report_share_statistics() {
    let app = spawn().await;
    let response = versioned(
        app.client
            .get(app.url("/linkedin/rest/organizations/2414183")),
        "li-token-o",
    )
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    let org: Value = response.json().await.unwrap();
    assert_eq!(org["id"], 2414183);
    assert_eq!(org["localizedName"], "Sandbox Organization 2414183");
    let missing = versioned(
        app.client.get(app.url("/linkedin/rest/organizations/0")),
        "li-token-o",
    )
    .send()
    .await
    .unwrap();
    assert_eq!(missing.status(), 404);

    let author = "urn:li:organization:2414183";
    let response = create(&app, "li-token-o", author, "from the company").await;
    assert_eq!(response.status(), 201);
    let urn = header(&response, "x-restli-id").to_owned();
    let id: u64 = urn.trim_start_matches("urn:li:share:").parse().unwrap();

    let shares = format!("List({})", urn.replace(':', "%3A"));
    let url = format!(
        "{}?q=organizationalEntity&organizationalEntity={}&shares={shares}",
        app.url("/linkedin/rest/organizationalEntityShareStatistics"),
        author.replace(':', "%3A")
    );
    let response = versioned(app.client.get(&url), "li-token-o")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let expected = herald_sandbox::linkedin::share_statistics_for(id);
    let element = &body["elements"][0];
    assert_eq!(element["share"], urn.as_str());
    assert_eq!(element["organizationalEntity"], author);
    assert_eq!(
        element["totalShareStatistics"]["likeCount"],
        expected.like_count
    );
    assert_eq!(
        element["totalShareStatistics"]["impressionCount"],
        expected.impression_count
    );
    assert_eq!(
        element["totalShareStatistics"]["commentCount"],
        expected.comment_count
    );

    let refused = versioned(app.client.get(&url), "noscope-li")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    app.stop().await;
}

#[tokio::test]
async fn the_finder_pages_newest_first() {
    let app = spawn().await;
    let author = person(&app, "li-token-f").await;
    for text in ["one", "two", "three"] {
        assert_eq!(
            create(&app, "li-token-f", &author, text).await.status(),
            201
        );
    }
    let body: Value = find(&app, "li-token-f", &author, &[("count", "2")])
        .await
        .json()
        .await
        .unwrap();
    let texts: Vec<&str> = body["elements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["commentary"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["three", "two"]);
    assert_eq!(body["paging"]["links"][0]["rel"], "next");
    let body: Value = find(
        &app,
        "li-token-f",
        &author,
        &[("count", "2"), ("start", "2")],
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(body["elements"][0]["commentary"], "one");
    assert_eq!(body["paging"]["links"], json!([]));
    app.stop().await;
}

#[tokio::test]
async fn faults_apply_to_creating_posts() {
    let app = spawn().await;
    let author = person(&app, "li-token-x").await;
    app.handle
        .set_faults(
            Platform::Linkedin,
            Faults {
                error_rate: 1.0,
                ..Faults::default()
            },
        )
        .unwrap();
    assert_eq!(
        create(&app, "li-token-x", &author, "outage").await.status(),
        503
    );

    app.handle
        .set_faults(
            Platform::Linkedin,
            Faults {
                rate_limit_rate: 1.0,
                ..Faults::default()
            },
        )
        .unwrap();
    let response = create(&app, "li-token-x", &author, "throttled").await;
    assert_eq!(response.status(), 429);
    assert!(
        !response
            .headers()
            .keys()
            .any(|name| name.as_str().contains("ratelimit")),
        "LinkedIn sends no rate-limit headers"
    );
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap()),
        Some("2"),
        "the injected throttle is a short burst that says when to come back"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "TOO_MANY_REQUESTS");
    assert!(app.handle.ledger().is_empty());

    app.handle
        .set_faults(
            Platform::Linkedin,
            Faults {
                drop_after_commit_rate: 1.0,
                ..Faults::default()
            },
        )
        .unwrap();
    let dropped = versioned(
        app.client.post(app.url("/linkedin/rest/posts")),
        "li-token-x",
    )
    .json(&post_body(&author, "did it post?"))
    .send()
    .await;
    assert!(dropped.is_err(), "the client never sees an answer");
    app.handle
        .set_faults(Platform::Linkedin, Faults::default())
        .unwrap();
    let ledger = app.handle.ledger();
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].text, "did it post?");
    let body: Value = find(&app, "li-token-x", &author, &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["elements"][0]["id"], ledger[0].status_id.as_str());
    app.stop().await;
}
