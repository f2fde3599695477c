//! getPosts with engagement counts, and methods the sandbox does not serve.

use serde_json::Value;

use super::{POST, call, error_of, post_record, put_body, query, session};
use crate::helpers::spawn;

#[tokio::test]
async fn get_posts_reports_engagement_counts() {
    let app = spawn().await;
    let (did, access, _) = session(&app, "kim.test").await;
    let rkey = "3khhhhhhhhhhh";
    call(
        &app,
        "com.atproto.repo.putRecord",
        Some(&access),
        put_body(&did, rkey, post_record("count me")),
    )
    .await;
    let uri = format!("at://{did}/{POST}/{rkey}");
    let missing = format!("at://{did}/{POST}/3kiiiiiiiiiii");
    let response = query(
        &app,
        "app.bsky.feed.getPosts",
        &[("uris", &uri), ("uris", &missing)],
    )
    .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let posts = body["posts"].as_array().unwrap();
    assert_eq!(posts.len(), 1);
    let counts = herald_sandbox::bluesky::engagement_for(&uri);
    assert_eq!(posts[0]["uri"], uri.as_str());
    assert_eq!(posts[0]["likeCount"], counts.likes);
    assert_eq!(posts[0]["repostCount"], counts.reposts);
    assert_eq!(posts[0]["replyCount"], counts.replies);
    assert_eq!(posts[0]["quoteCount"], counts.quotes);
    assert!(counts.likes > 0 && counts.quotes > 0);
    assert_eq!(posts[0]["author"]["handle"], "kim.test");
    assert_eq!(posts[0]["record"]["text"], "count me");
    app.stop().await;
}

#[tokio::test]
async fn unknown_methods_are_not_implemented() {
    let app = spawn().await;
    let response = query(&app, "com.atproto.sync.getRepo", &[]).await;
    let (status, error, _) = error_of(response).await;
    assert_eq!((status, error.as_str()), (501, "MethodNotImplemented"));
    app.stop().await;
}
