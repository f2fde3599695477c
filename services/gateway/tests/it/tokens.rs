//! Token verification: a key the test generated and published to `auth-keys` is accepted
//! (the call then fails with 503 since no service answers); every forged, expired or foreign
//! token is 401.

use crate::support::{TestGateway, TestKey, claims, error_body, gateway_with_key, shared_nats_url};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};

#[tokio::test]
async fn a_protected_route_without_a_token_is_401() {
    let gw = TestGateway::start().await;
    let response = gw.get("/v1/usage").send().await.unwrap();
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    let body = error_body(response, 401).await;
    assert_eq!(body["error"]["code"], "unauthenticated");

    let response = gw
        .get("/v1/usage")
        .header("authorization", "Basic dXNlcjpwdw==")
        .send()
        .await
        .unwrap();
    error_body(response, 401).await;
}

#[tokio::test]
async fn a_valid_token_passes_and_the_missing_service_is_503() {
    let (gw, key) = gateway_with_key().await;
    let response = gw
        .get("/v1/usage")
        .bearer_auth(key.token("admin"))
        .header("x-request-id", "usage-503")
        .send()
        .await
        .unwrap();
    let body = error_body(response, 503).await;
    assert_eq!(body["error"]["code"], "unavailable");
    assert_eq!(body["error"]["request_id"], "usage-503");

    let post = serde_json::json!({
        "text": "hello",
        "scheduled_at": "2030-01-01T09:00:00Z",
        "account_ids": [uuid::Uuid::now_v7()],
    });
    let response = gw
        .post("/v1/posts")
        .bearer_auth(key.token("editor"))
        .json(&post)
        .send()
        .await
        .unwrap();
    error_body(response, 503).await;
}

#[tokio::test]
async fn a_key_published_after_start_is_found() {
    let gw = TestGateway::start().await;
    let key = TestKey::new();
    key.publish(&shared_nats_url()).await;
    let response = gw
        .get("/v1/usage")
        .bearer_auth(key.token("owner"))
        .send()
        .await
        .unwrap();
    error_body(response, 503).await;
}

#[tokio::test]
async fn a_path_id_that_is_not_a_uuid_is_404_after_auth() {
    let (gw, key) = gateway_with_key().await;
    let token = key.token("viewer");
    for path in [
        "/v1/posts/123",
        "/v1/posts/abc/metrics",
        "/v1/renders/x",
        "/v1/renders/'/image",
    ] {
        let response = gw.get(path).bearer_auth(&token).send().await.unwrap();
        let body = error_body(response, 404).await;
        assert_eq!(body["error"]["code"], "not_found", "{path}");
    }
    // Without a token the same paths are 401: ids are never looked at before auth.
    error_body(gw.get("/v1/posts/123").send().await.unwrap(), 401).await;
    let id = uuid::Uuid::new_v4();
    let response = gw
        .get(&format!("/v1/posts/{id}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    error_body(response, 503).await;
}

fn b64(json: serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&json).unwrap())
}

#[tokio::test]
async fn forged_expired_and_foreign_tokens_are_401() {
    let (gw, key) = gateway_with_key().await;
    let claims_json = serde_json::to_value(claims("owner", 900)).unwrap();

    let expired = key.sign(&key.kid, claims("owner", -120));
    let unknown_kid = key.sign("no-such-kid", claims("owner", 900));
    let alg_none = format!(
        "{}.{}.",
        b64(serde_json::json!({"alg": "none", "typ": "JWT", "kid": key.kid})),
        b64(claims_json.clone())
    );
    // The classic confusion attack: HMAC keyed with the public key bytes.
    let mut hs_header = Header::new(Algorithm::HS256);
    hs_header.kid = Some(key.kid.clone());
    let hs256 = jsonwebtoken::encode(
        &hs_header,
        &claims_json,
        &EncodingKey::from_secret(key.x().as_bytes()),
    )
    .unwrap();
    // Signed by a key that was never published, claiming the published kid.
    let foreign = TestKey::new().sign(&key.kid, claims("owner", 900));
    let mut wrong_issuer = claims("owner", 900);
    wrong_issuer.iss = "someone-else".into();
    let mut wrong_audience = claims("owner", 900);
    wrong_audience.aud = "another-api".into();
    let mut not_yet_valid = claims("owner", 900);
    not_yet_valid.nbf = chrono::Utc::now().timestamp() + 600;
    let mut bad_role = claims("owner", 900);
    bad_role.role = "superuser".into();
    let mut bad_tenant = claims("owner", 900);
    bad_tenant.tid = "tenant-1".into();
    let valid = key.token("owner");
    let (head, rest) = valid.split_once('.').unwrap();
    let (_, signature) = rest.split_once('.').unwrap();
    let tampered = format!("{head}.{}.{signature}", b64(claims_json.clone()));

    let cases = [
        ("expired", expired),
        ("unknown kid", unknown_kid),
        ("alg none", alg_none),
        ("HS256", hs256),
        ("foreign key", foreign),
        ("wrong issuer", key.sign(&key.kid, wrong_issuer)),
        ("wrong audience", key.sign(&key.kid, wrong_audience)),
        ("not yet valid", key.sign(&key.kid, not_yet_valid)),
        ("unknown role", key.sign(&key.kid, bad_role)),
        ("tenant not a uuid", key.sign(&key.kid, bad_tenant)),
        ("tampered claims", tampered),
        ("garbage", "not.a.jwt".to_owned()),
    ];
    for (case, token) in cases {
        let response = gw
            .get("/v1/usage")
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert!(
            response.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer"),
            "{case}"
        );
        let status = response.status().as_u16();
        assert_eq!(status, 401, "{case}");
        error_body(response, 401).await;
    }
}

#[tokio::test]
async fn a_role_below_the_routes_requirement_is_403() {
    let (gw, key) = gateway_with_key().await;
    let post = serde_json::json!({
        "text": "hello",
        "scheduled_at": "2030-01-01T09:00:00Z",
        "account_ids": [],
    });
    let response = gw
        .post("/v1/posts")
        .bearer_auth(key.token("viewer"))
        .json(&post)
        .send()
        .await
        .unwrap();
    let body = error_body(response, 403).await;
    assert_eq!(body["error"]["code"], "forbidden");

    let response = gw
        .get("/v1/usage")
        .bearer_auth(key.token("editor"))
        .send()
        .await
        .unwrap();
    error_body(response, 403).await;
}

#[tokio::test]
async fn a_key_deleted_from_the_bucket_stops_verifying() {
    let (gw, key) = gateway_with_key().await;
    let token = key.token("owner");
    let response = gw
        .get("/v1/usage")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    error_body(response, 503).await;

    key.unpublish(&shared_nats_url()).await;
    // The watch drops the key; poll briefly for it to arrive.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let response = gw
            .get("/v1/usage")
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        if response.status().as_u16() == 401 {
            error_body(response, 401).await;
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "deleted key still accepted"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
