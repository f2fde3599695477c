//! The user timeline used for reconciliation, and lookups with public metrics.

use chrono::{Duration, Utc};
use serde_json::{Value, json};

use super::{created_id, get, me, tweet};
use crate::helpers::{header, spawn};

#[tokio::test]
async fn the_timeline_lists_recent_tweets_newest_first_with_pages() {
    let app = spawn().await;
    let user_id = me(&app, "token-a").await["id"].as_str().unwrap().to_owned();
    let before = (Utc::now() - Duration::seconds(5))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let mut ids = Vec::new();
    for n in 0..6 {
        ids.push(created_id(tweet(&app, "token-a", &format!("tweet number {n}")).await).await);
    }
    let link = "see https://example.com/a?b=1&c=2 <now>";
    ids.push(created_id(tweet(&app, "token-a", link).await).await);

    let path = format!("/2/users/{user_id}/tweets");
    let params = [
        ("start_time", before.as_str()),
        ("max_results", "5"),
        ("tweet.fields", "created_at,entities"),
    ];
    let response = get(&app, "token-a", &path, &params).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "x-rate-limit-limit"), "900");
    let page: Value = response.json().await.unwrap();
    let data = page["data"].as_array().unwrap();
    assert_eq!(data.len(), 5);
    assert_eq!(data[0]["id"], ids[6].as_str());
    assert_eq!(page["meta"]["result_count"], 5);
    assert_eq!(page["meta"]["newest_id"], ids[6].as_str());
    assert!(data[0]["created_at"].as_str().unwrap().ends_with('Z'));
    let shown = data[0]["text"].as_str().unwrap();
    assert!(shown.starts_with("see https://t.co/"), "{shown}");
    assert!(shown.ends_with(" &lt;now&gt;"), "{shown}");
    assert_eq!(
        data[0]["entities"]["urls"][0]["expanded_url"],
        "https://example.com/a?b=1&c=2"
    );
    assert!(data[1].get("entities").is_none(), "no URLs, no entities");

    let token = page["meta"]["next_token"].as_str().unwrap();
    let mut next_params = params.to_vec();
    next_params.push(("pagination_token", token));
    let next: Value = get(&app, "token-a", &path, &next_params)
        .await
        .json()
        .await
        .unwrap();
    let next_ids: Vec<&str> = next["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(next_ids, vec![ids[1].as_str(), ids[0].as_str()]);
    assert!(next["meta"].get("next_token").is_none());

    let later = (Utc::now() + Duration::minutes(1)).to_rfc3339();
    let empty: Value = get(&app, "token-a", &path, &[("start_time", later.as_str())])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(empty, json!({ "meta": { "result_count": 0 } }));

    let bad = get(&app, "token-a", &path, &[("max_results", "1")]).await;
    assert_eq!(bad.status(), 400);
    let refused = get(&app, "noscope-token-a", &path, &[]).await;
    assert_eq!(refused.status(), 403);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(
        body,
        json!({ "title": "Forbidden", "type": "about:blank", "status": 403, "detail": "Forbidden" })
    );
    app.stop().await;
}

#[tokio::test]
async fn lookup_reports_public_metrics_and_missing_ids() {
    let app = spawn().await;
    let id = created_id(tweet(&app, "token-a", "measure me").await).await;
    let ids = format!("{id},123");
    let response = get(
        &app,
        "token-b",
        "/2/tweets",
        &[("ids", ids.as_str()), ("tweet.fields", "public_metrics")],
    )
    .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let metrics = herald_sandbox::x::public_metrics_for(id.parse().unwrap());
    assert_eq!(body["data"][0]["id"], id.as_str());
    assert_eq!(body["data"][0]["public_metrics"], json!(metrics));
    assert!(metrics.like_count > 0 && metrics.impression_count > 0);
    assert_eq!(body["errors"][0]["resource_id"], "123");
    assert_eq!(body["errors"][0]["title"], "Not Found Error");
    app.stop().await;
}
