//! The JWT attack suite in one place: every forged, expired, foreign or revoked token is 401
//! with the uniform error body, and a revocation reaches a second gateway replica within a
//! second (two gateways on one nats-server, the revocation put into `auth-revocations` as
//! auth puts it).

use crate::support::{
    TestGateway, TestKey, claims, error_body, gateway_with_key, put_revocation, session_claims,
    shared_nats_url,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use herald_contracts::rpc::auth::{
    membership_revocation_key, session_revocation_key, user_revocation_key,
};
use herald_contracts::{TenantId, UserId};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use std::time::Duration;

/// A guard against a hang, far above the 1 s bound.
const WAIT: Duration = Duration::from_secs(30);

fn b64(json: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(json).unwrap())
}

/// The status `token` gets on a route that needs a viewer; a valid token gets 503 (no
/// service answers in these tests), a refused one 401 with the uniform body.
async fn status(gw: &TestGateway, token: &str) -> u16 {
    let response = gw
        .get("/v1/notifications")
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    if status == 401 {
        assert!(
            response.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );
        let body = error_body(response, 401).await;
        assert_eq!(body["error"]["code"], "unauthenticated", "{body}");
        assert_eq!(
            body["error"]["message"], "invalid or expired token",
            "{body}"
        );
    }
    status
}

async fn assert_refused(gw: &TestGateway, case: &str, token: &str) {
    assert_eq!(status(gw, token).await, 401, "{case}");
}

#[tokio::test]
async fn forged_expired_and_foreign_tokens_are_401() {
    let (gw, key) = gateway_with_key().await;
    let other = TestKey::new();
    other.publish(&shared_nats_url()).await;
    let valid_claims = claims("owner", 900);
    let claims_json = serde_json::to_value(&valid_claims).unwrap();
    assert_eq!(
        status(&gw, &key.sign(&key.kid, valid_claims.clone())).await,
        503
    );

    let alg_none = format!(
        "{}.{}.",
        b64(&serde_json::json!({"alg": "none", "typ": "JWT", "kid": key.kid})),
        b64(&claims_json)
    );
    let alg_none_signed = format!(
        "{}.{}.c2lnbmF0dXJl",
        b64(&serde_json::json!({"alg": "none", "kid": key.kid})),
        b64(&claims_json)
    );
    // Key confusion: HMAC keyed with the public key, as its JWK text and as its raw bytes.
    let mut hs_header = Header::new(Algorithm::HS256);
    hs_header.kid = Some(key.kid.clone());
    let hs256_x = jsonwebtoken::encode(
        &hs_header,
        &claims_json,
        &EncodingKey::from_secret(key.x().as_bytes()),
    )
    .unwrap();
    let raw_public = URL_SAFE_NO_PAD.decode(key.x()).unwrap();
    let hs256_raw = jsonwebtoken::encode(
        &hs_header,
        &claims_json,
        &EncodingKey::from_secret(&raw_public),
    )
    .unwrap();
    let no_kid = {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = None;
        let signed = key.sign(&key.kid, valid_claims.clone());
        let (_, rest) = signed.split_once('.').unwrap();
        format!("{}.{rest}", b64(&serde_json::to_value(&header).unwrap()))
    };
    let mut not_yet_valid = claims("owner", 900);
    not_yet_valid.nbf = chrono::Utc::now().timestamp() + 600;
    let mut wrong_issuer = claims("owner", 900);
    wrong_issuer.iss = "someone-else".into();
    let mut wrong_audience = claims("owner", 900);
    wrong_audience.aud = "another-api".into();
    let mut bad_sid = claims("owner", 900);
    bad_sid.sid = Some("not-a-uuid".into());
    // A valid signature over other claims: the payload raised to another tenant.
    let signed = key.sign(&key.kid, claims("viewer", 900));
    let (head, rest) = signed.split_once('.').unwrap();
    let (_, signature) = rest.split_once('.').unwrap();
    let tampered = format!("{head}.{}.{signature}", b64(&claims_json));

    let cases = [
        ("alg none", alg_none),
        ("alg none with a signature", alg_none_signed),
        ("HS256 keyed with the public key text", hs256_x),
        ("HS256 keyed with the public key bytes", hs256_raw),
        ("expired", key.sign(&key.kid, claims("owner", -120))),
        ("not yet valid", key.sign(&key.kid, not_yet_valid)),
        ("unknown kid", key.sign("no-such-kid", claims("owner", 900))),
        (
            "kid of another published key",
            key.sign(&other.kid, claims("owner", 900)),
        ),
        ("no kid", no_kid),
        (
            "signed by an unpublished key",
            TestKey::new().sign(&key.kid, claims("owner", 900)),
        ),
        ("wrong issuer", key.sign(&key.kid, wrong_issuer)),
        ("wrong audience", key.sign(&key.kid, wrong_audience)),
        ("sid not a uuid", key.sign(&key.kid, bad_sid)),
        ("tampered payload", tampered),
        ("garbage", "not.a.jwt".to_owned()),
    ];
    for (case, token) in cases {
        assert_refused(&gw, case, &token).await;
    }
}

#[tokio::test]
async fn tokens_of_a_revoked_session_user_or_membership_are_401() {
    let (gw, key) = gateway_with_key().await;
    let nats = shared_nats_url();
    let now = chrono::Utc::now();

    // A session (refresh family) revoked, e.g. by reuse of a rotated refresh token.
    let session = uuid::Uuid::now_v7();
    let in_session = key.sign(&key.kid, session_claims("owner", session));
    let other_session = key.sign(&key.kid, session_claims("owner", uuid::Uuid::now_v7()));
    assert_eq!(status(&gw, &in_session).await, 503);
    put_revocation(&nats, &session_revocation_key(&session), now).await;
    eventually_refused(&gw, &in_session).await;
    assert_eq!(
        status(&gw, &other_session).await,
        503,
        "another session lives"
    );

    // Log out everywhere: tokens issued before the second of `revoked_at` are refused.
    let old = claims("owner", 900);
    let user: UserId = old.sub.parse().unwrap();
    let mut newer = old.clone();
    newer.iat = now.timestamp() + 1;
    newer.nbf = newer.iat;
    let (old, newer) = (key.sign(&key.kid, old), key.sign(&key.kid, newer));
    put_revocation(&nats, &user_revocation_key(&user), now).await;
    eventually_refused(&gw, &old).await;
    assert_eq!(status(&gw, &newer).await, 503, "issued after: accepted");

    // Removed from one tenant: tokens for that tenant are refused, not for another.
    let member = claims("editor", 900);
    let tenant: TenantId = member.tid.parse().unwrap();
    let user: UserId = member.sub.parse().unwrap();
    let mut elsewhere = member.clone();
    elsewhere.tid = TenantId::new().to_string();
    let (member, elsewhere) = (key.sign(&key.kid, member), key.sign(&key.kid, elsewhere));
    put_revocation(&nats, &membership_revocation_key(&tenant, &user), now).await;
    eventually_refused(&gw, &member).await;
    assert_eq!(status(&gw, &elsewhere).await, 503, "other tenant: accepted");
}

/// Waits until `token` is refused and prints how long the revocation took to arrive (the
/// issue's bound is 1 s; the figure goes in the notes, not into an assertion).
async fn eventually_refused(gw: &TestGateway, token: &str) {
    herald_testkit::time_until("revocation applied by the gateway", WAIT, || async {
        status(gw, token).await == 401
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_revocation_reaches_a_second_replica() {
    let (first, key) = gateway_with_key().await;
    let second = TestGateway::start().await;
    let session = uuid::Uuid::now_v7();
    let token = key.sign(&key.kid, session_claims("viewer", session));
    assert_eq!(status(&first, &token).await, 503);
    assert_eq!(status(&second, &token).await, 503);

    put_revocation(
        &shared_nats_url(),
        &session_revocation_key(&session),
        chrono::Utc::now(),
    )
    .await;
    eventually_refused(&second, &token).await;
    eventually_refused(&first, &token).await;

    // A replica started afterwards knows it before serving.
    let third = TestGateway::start().await;
    assert_eq!(status(&third, &token).await, 401);
}
