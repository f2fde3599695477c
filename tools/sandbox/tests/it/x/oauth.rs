//! The OAuth 2.0 token endpoint: rotation of single-use refresh tokens.

use reqwest::Response;
use serde_json::{Value, json};

use super::{me, url};
use crate::helpers::{TestSandbox, spawn};

async fn token_request(app: &TestSandbox, form: &[(&str, &str)]) -> Response {
    app.client
        .post(url(app, "/2/oauth2/token"))
        .form(form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn refresh_rotates_single_use_tokens_for_the_same_user() {
    let app = spawn().await;
    let issued: Value = token_request(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", "user-a"),
            ("client_id", "herald"),
        ],
    )
    .await
    .json()
    .await
    .unwrap();
    let user_id = me(&app, "user-a").await["id"].clone();
    assert_eq!(
        me(&app, issued["access_token"].as_str().unwrap()).await["id"],
        user_id
    );

    let refresh = issued["refresh_token"].as_str().unwrap();
    let response = token_request(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("client_id", "herald"),
        ],
    )
    .await;
    assert_eq!(response.status(), 200);
    let refreshed: Value = response.json().await.unwrap();
    assert_eq!(refreshed["token_type"], "bearer");
    assert_eq!(refreshed["expires_in"], 7200);
    assert!(
        refreshed["scope"]
            .as_str()
            .unwrap()
            .contains("offline.access")
    );
    assert_ne!(refreshed["refresh_token"], refresh);
    assert_eq!(
        me(&app, refreshed["access_token"].as_str().unwrap()).await["id"],
        user_id
    );

    // Single use: the old refresh token is spent.
    let reused = token_request(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("client_id", "herald"),
        ],
    )
    .await;
    assert_eq!(reused.status(), 400);
    let body: Value = reused.json().await.unwrap();
    assert_eq!(
        body,
        json!({ "error": "invalid_request", "error_description": "Value passed for the token was invalid." })
    );

    // A confidential client authenticates with Basic instead of `client_id`.
    let basic = app
        .client
        .post(url(&app, "/2/oauth2/token"))
        .basic_auth("herald", Some("secret"))
        .form(&[
            ("grant_type", "refresh_token"),
            (
                "refresh_token",
                refreshed["refresh_token"].as_str().unwrap(),
            ),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 200);

    let no_client = token_request(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", "xrt.1.a"),
        ],
    )
    .await;
    assert_eq!(no_client.status(), 400);
    let body: Value = no_client.json().await.unwrap();
    assert_eq!(
        body["error_description"],
        "Missing required parameter [client_id]."
    );
    app.stop().await;
}

#[tokio::test]
async fn a_keep_refresh_token_is_not_rotated() {
    let app = spawn().await;
    for _ in 0..2 {
        let response = token_request(
            &app,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", "keep-user-b"),
                ("client_id", "herald"),
            ],
        )
        .await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert!(body.get("refresh_token").is_none(), "{body}");
        let access = body["access_token"].as_str().unwrap();
        assert_eq!(me(&app, access).await["id"], me(&app, "user-b").await["id"]);
    }
    app.stop().await;
}
