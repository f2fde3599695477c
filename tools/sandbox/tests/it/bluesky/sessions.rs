//! createSession / refreshSession and the PDS's token errors.

use chrono::{Duration, Utc};
use serde_json::{Value, json};

use super::{call, claims, error_of, post_record, put_body, session};
use crate::helpers::spawn;

#[tokio::test]
async fn sessions_are_stable_jwts_and_refresh_rotates_them() {
    let app = spawn().await;
    let (did, access, refresh) = session(&app, "erin.test").await;
    assert!(did.starts_with("did:plc:") && did.len() == 32, "{did}");
    assert_eq!(session(&app, "erin.test").await.0, did);
    assert_ne!(session(&app, "frank.test").await.0, did);

    let access_claims = claims(&access);
    assert_eq!(access_claims["sub"], did.as_str());
    assert_eq!(access_claims["scope"], "com.atproto.appPass");
    let lifetime = access_claims["exp"].as_i64().unwrap() - Utc::now().timestamp();
    assert!((7100..=7200).contains(&lifetime), "{lifetime}");
    assert_eq!(claims(&refresh)["scope"], "com.atproto.refresh");

    let refreshed = call(
        &app,
        "com.atproto.server.refreshSession",
        Some(&refresh),
        json!({}),
    )
    .await;
    assert_eq!(refreshed.status(), 200);
    let refreshed: Value = refreshed.json().await.unwrap();
    assert_eq!(refreshed["did"], did.as_str());
    assert_eq!(refreshed["handle"], "erin.test");
    assert_ne!(refreshed["refreshJwt"], refresh.as_str());
    assert_eq!(
        claims(refreshed["accessJwt"].as_str().unwrap())["sub"],
        did.as_str()
    );

    // A retried refresh within the grace period gets the same new session.
    let again: Value = call(
        &app,
        "com.atproto.server.refreshSession",
        Some(&refresh),
        json!({}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(again["refreshJwt"], refreshed["refreshJwt"]);

    // The access token is not a refresh token.
    let wrong = call(
        &app,
        "com.atproto.server.refreshSession",
        Some(&access),
        json!({}),
    )
    .await;
    assert_eq!(
        error_of(wrong).await,
        (
            400,
            "InvalidToken".to_owned(),
            "Invalid token type".to_owned()
        )
    );
    app.stop().await;
}

#[tokio::test]
async fn bad_credentials_and_tokens_get_the_pds_errors() {
    let app = spawn().await;
    let refused = call(
        &app,
        "com.atproto.server.createSession",
        None,
        json!({ "identifier": "gina.test", "password": "wrong-password" }),
    )
    .await;
    assert_eq!(
        error_of(refused).await,
        (
            401,
            "AuthenticationRequired".to_owned(),
            "Invalid identifier or password".to_owned()
        )
    );

    let did = "did:plc:expiredexpiredexpired00";
    let body = put_body(did, "3kddddddddddd", post_record("never"));
    let expired = herald_sandbox::bluesky::access_jwt(did, Utc::now() - Duration::minutes(1));
    let response = call(
        &app,
        "com.atproto.repo.putRecord",
        Some(&expired),
        body.clone(),
    )
    .await;
    assert_eq!(
        error_of(response).await,
        (
            400,
            "ExpiredToken".to_owned(),
            "Token has expired".to_owned()
        )
    );
    let response = call(
        &app,
        "com.atproto.repo.putRecord",
        Some("garbage"),
        body.clone(),
    )
    .await;
    assert_eq!(
        error_of(response).await,
        (
            400,
            "InvalidToken".to_owned(),
            "Token could not be verified".to_owned()
        )
    );
    let response = call(&app, "com.atproto.repo.putRecord", None, body).await;
    let (status, error, _) = error_of(response).await;
    assert_eq!((status, error.as_str()), (401, "AuthMissing"));

    // An `expired-` app password opens a session whose access token has already expired.
    let session: Value = call(
        &app,
        "com.atproto.server.createSession",
        None,
        json!({ "identifier": "hank.test", "password": "expired-pass" }),
    )
    .await
    .json()
    .await
    .unwrap();
    assert!(
        claims(session["accessJwt"].as_str().unwrap())["exp"]
            .as_i64()
            .unwrap()
            < Utc::now().timestamp()
    );
    assert!(app.ledger("").await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn a_norotate_session_refreshes_without_a_new_refresh_token() {
    let app = spawn().await;
    let session: Value = call(
        &app,
        "com.atproto.server.createSession",
        None,
        json!({ "identifier": "ivy.test", "password": "norotate-pass" }),
    )
    .await
    .json()
    .await
    .unwrap();
    let refresh = session["refreshJwt"].as_str().unwrap();
    for _ in 0..2 {
        let refreshed: Value = call(
            &app,
            "com.atproto.server.refreshSession",
            Some(refresh),
            json!({}),
        )
        .await
        .json()
        .await
        .unwrap();
        assert!(refreshed["accessJwt"].is_string());
        assert!(refreshed.get("refreshJwt").is_none(), "{refreshed}");
        assert_eq!(refreshed["did"], session["did"]);
    }
    app.stop().await;
}
