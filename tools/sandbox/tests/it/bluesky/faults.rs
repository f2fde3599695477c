//! Injected faults on the write endpoints, and the ledger under them.

use chrono::Utc;
use herald_sandbox::{Faults, Platform};

use super::{POST, call, error_of, post_record, put_body, query, session, xrpc};
use crate::helpers::{header, spawn};

#[tokio::test]
async fn faults_apply_to_writes_exactly_as_configured() {
    let app = spawn().await;
    let (did, access, _) = session(&app, "lee.test").await;
    let body = put_body(&did, "3kjjjjjjjjjjj", post_record("faulty"));
    let set = |faults: Faults| app.handle.set_faults(Platform::Bluesky, faults).unwrap();

    set(Faults {
        error_rate: 1.0,
        ..Faults::default()
    });
    let response = call(
        &app,
        "com.atproto.repo.putRecord",
        Some(&access),
        body.clone(),
    )
    .await;
    assert_eq!(
        error_of(response).await,
        (
            503,
            "NotEnoughResources".to_owned(),
            "Not Enough Resources".to_owned()
        )
    );

    set(Faults {
        rate_limit_rate: 1.0,
        ..Faults::default()
    });
    let response = call(
        &app,
        "com.atproto.repo.putRecord",
        Some(&access),
        body.clone(),
    )
    .await;
    assert_eq!(response.status(), 429);
    assert_eq!(header(&response, "ratelimit-remaining"), "0");
    assert_eq!(header(&response, "ratelimit-limit"), "5000");
    let reset: i64 = header(&response, "ratelimit-reset").parse().unwrap();
    assert!(reset > Utc::now().timestamp());
    assert_eq!(
        error_of(response).await,
        (
            429,
            "RateLimitExceeded".to_owned(),
            "Rate Limit Exceeded".to_owned()
        )
    );
    assert!(app.ledger("").await.is_empty());

    set(Faults {
        drop_after_commit_rate: 1.0,
        ..Faults::default()
    });
    let error = app
        .client
        .post(xrpc(&app, "com.atproto.repo.putRecord"))
        .bearer_auth(&access)
        .json(&body)
        .send()
        .await
        .unwrap_err();
    assert!(!error.is_timeout(), "the connection must be cut: {error}");
    assert_eq!(app.ledger("").await.len(), 1, "committed before the drop");

    // Reads are not faulted, and the retry of the same bytes is a no-op.
    set(Faults {
        error_rate: 1.0,
        ..Faults::default()
    });
    let found = query(
        &app,
        "com.atproto.repo.getRecord",
        &[
            ("repo", &did),
            ("collection", POST),
            ("rkey", "3kjjjjjjjjjjj"),
        ],
    )
    .await;
    assert_eq!(found.status(), 200);
    set(Faults::default());
    let retry = call(&app, "com.atproto.repo.putRecord", Some(&access), body).await;
    assert_eq!(retry.status(), 200);
    assert_eq!(app.ledger("").await.len(), 1);
    app.stop().await;
}
