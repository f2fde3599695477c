//! Record writes keyed by rkey: create, no-op replay, InvalidSwap, createRecord, getRecord,
//! lexicon validation.

use chrono::Utc;
use serde_json::{Value, json};

use super::{POST, call, error_of, post_record, put_body, query, session};
use crate::helpers::{header, spawn};

#[tokio::test]
async fn a_put_record_creates_the_post_once_and_a_replay_is_a_no_op() {
    let app = spawn().await;
    let (did, access, _) = session(&app, "alice.test").await;
    let rkey = "3kabcdefghijk";
    let body = put_body(&did, rkey, post_record("hello bluesky"));

    let first = call(
        &app,
        "com.atproto.repo.putRecord",
        Some(&access),
        body.clone(),
    )
    .await;
    assert_eq!(first.status(), 200);
    assert_eq!(header(&first, "ratelimit-limit"), "5000");
    assert_eq!(header(&first, "ratelimit-remaining"), "4998");
    assert_eq!(header(&first, "ratelimit-policy"), "5000;w=3600");
    let reset: i64 = header(&first, "ratelimit-reset").parse().unwrap();
    assert!(reset > Utc::now().timestamp());
    let first: Value = first.json().await.unwrap();
    let uri = format!("at://{did}/{POST}/{rkey}");
    assert_eq!(first["uri"], uri);
    assert!(first["cid"].as_str().unwrap().starts_with("bafyrei"));
    assert!(first["commit"]["rev"].is_string());
    assert_eq!(first["validationStatus"], "valid");

    // The same bytes again (a retry after a lost answer): same record, no new commit.
    let replay = call(&app, "com.atproto.repo.putRecord", Some(&access), body).await;
    assert_eq!(replay.status(), 200);
    let replay: Value = replay.json().await.unwrap();
    assert_eq!(replay["uri"], uri);
    assert_eq!(replay["cid"], first["cid"]);
    assert!(replay.get("commit").is_none(), "{replay}");

    let ledger = app.ledger("?platform=bluesky").await;
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0]["account_id"], did.as_str());
    assert_eq!(ledger[0]["status_id"], rkey);
    assert_eq!(ledger[0]["text"], "hello bluesky");

    let found = query(
        &app,
        "com.atproto.repo.getRecord",
        &[("repo", &did), ("collection", POST), ("rkey", rkey)],
    )
    .await;
    assert_eq!(found.status(), 200);
    let found: Value = found.json().await.unwrap();
    assert_eq!(found["uri"], uri);
    assert_eq!(found["cid"], first["cid"]);
    assert_eq!(found["value"], post_record("hello bluesky"));
    app.stop().await;
}

#[tokio::test]
async fn a_different_record_under_a_taken_key_is_refused() {
    let app = spawn().await;
    let (did, access, _) = session(&app, "bob.test").await;
    let rkey = "3kbbbbbbbbbbb";
    let put = |text: &str| put_body(&did, rkey, post_record(text));
    assert_eq!(
        call(
            &app,
            "com.atproto.repo.putRecord",
            Some(&access),
            put("one")
        )
        .await
        .status(),
        200
    );

    let swap = call(
        &app,
        "com.atproto.repo.putRecord",
        Some(&access),
        put("two"),
    )
    .await;
    let (status, error, message) = error_of(swap).await;
    assert_eq!((status, error.as_str()), (400, "InvalidSwap"));
    assert!(message.starts_with("Record was at bafyrei"), "{message}");

    let create = call(
        &app,
        "com.atproto.repo.createRecord",
        Some(&access),
        json!({ "repo": did, "collection": POST, "rkey": rkey, "record": post_record("three") }),
    )
    .await;
    assert_eq!(
        error_of(create).await,
        (
            500,
            "InternalServerError".to_owned(),
            "Internal Server Error".to_owned()
        )
    );

    let ledger = app.ledger("?platform=bluesky").await;
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0]["text"], "one");
    app.stop().await;
}

#[tokio::test]
async fn create_record_without_a_key_picks_a_tid() {
    let app = spawn().await;
    let (did, access, _) = session(&app, "carol.test").await;
    let response = call(
        &app,
        "com.atproto.repo.createRecord",
        Some(&access),
        json!({ "repo": did, "collection": POST, "record": post_record("server key") }),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "ratelimit-remaining"), "4997");
    let body: Value = response.json().await.unwrap();
    let rkey = body["uri"].as_str().unwrap().rsplit('/').next().unwrap();
    assert_eq!(rkey.len(), 13);
    assert_eq!(app.ledger("").await[0]["status_id"], rkey);
    app.stop().await;
}

#[tokio::test]
async fn a_missing_record_is_record_not_found() {
    let app = spawn().await;
    let (did, _, _) = session(&app, "dave.test").await;
    let response = query(
        &app,
        "com.atproto.repo.getRecord",
        &[
            ("repo", &did),
            ("collection", POST),
            ("rkey", "3kccccccccccc"),
        ],
    )
    .await;
    assert_eq!(
        error_of(response).await,
        (
            400,
            "RecordNotFound".to_owned(),
            format!("Could not locate record: at://{did}/{POST}/3kccccccccccc")
        )
    );
    let unknown = query(
        &app,
        "com.atproto.repo.getRecord",
        &[
            ("repo", "nobody.test"),
            ("collection", POST),
            ("rkey", "3kccccccccccc"),
        ],
    )
    .await;
    let (status, error, _) = error_of(unknown).await;
    assert_eq!((status, error.as_str()), (400, "InvalidRequest"));
    app.stop().await;
}

#[tokio::test]
async fn posts_are_validated_against_the_lexicon() {
    let app = spawn().await;
    let (did, access, _) = session(&app, "jo.test").await;
    let cases = [
        put_body(&did, "3keeeeeeeeeee", post_record(&"x".repeat(301))),
        put_body(&did, "not-a-tid", post_record("bad key")),
        put_body(
            &did,
            "3kfffffffffff",
            json!({ "$type": "app.bsky.feed.like", "text": "t", "createdAt": "2026-03-01T12:00:00.000Z" }),
        ),
        put_body(
            &did,
            "3kggggggggggg",
            json!({ "$type": POST, "text": "no date" }),
        ),
    ];
    for body in cases {
        let response = call(
            &app,
            "com.atproto.repo.putRecord",
            Some(&access),
            body.clone(),
        )
        .await;
        let (status, error, message) = error_of(response).await;
        assert_eq!(
            (status, error.as_str()),
            (400, "InvalidRequest"),
            "{body}: {message}"
        );
    }
    assert!(app.ledger("").await.is_empty());
    app.stop().await;
}
