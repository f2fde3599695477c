//! Key rotation: `rpc.auth.keys.rotate` (what `heraldctl keys rotate` calls) makes every
//! replica sign with a new key, keeps the old one verifiable until its tokens have expired,
//! and withdraws it after that.

// Helpers here unwrap like the tests they serve (clippy.toml covers #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::helpers::{MASTER_KEY, PASSWORD, TestAuth};
use futures::TryStreamExt;
use herald_auth::keys::{MasterKey, publish_public_keys, rotate_signing_key};
use herald_auth::{SCHEMA, start};
use herald_contracts::rpc::auth::{
    AccessClaims, KEYS_BUCKET, NoParams, PublicKey, RotateKeys, TOKEN_AUDIENCE, TOKEN_ISSUER,
};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use std::time::{Duration, Instant};

/// Refreshes `refresh_token` (keeping the new one) and returns the access token's kid.
async fn next_kid(auth: &TestAuth, refresh_token: &mut String) -> String {
    let tokens = auth.refresh(refresh_token).await.unwrap();
    *refresh_token = tokens.refresh_token;
    kid_of(&tokens.access_token)
}

fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

async fn published(auth: &TestAuth) -> Vec<String> {
    let store = auth.js().get_key_value(KEYS_BUCKET).await.unwrap();
    let mut kids: Vec<String> = store.keys().await.unwrap().try_collect().await.unwrap();
    kids.sort();
    kids
}

/// Verifies `token` with the key the bucket holds for its kid, as a gateway does.
async fn verifies(auth: &TestAuth, token: &str) -> bool {
    let store = auth.js().get_key_value(KEYS_BUCKET).await.unwrap();
    let Some(entry) = store.get(kid_of(token)).await.unwrap() else {
        return false;
    };
    let public: PublicKey = serde_json::from_slice(&entry).unwrap();
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_audience(&[TOKEN_AUDIENCE]);
    validation.set_issuer(&[TOKEN_ISSUER]);
    let key = DecodingKey::from_ed_components(&public.x).unwrap();
    jsonwebtoken::decode::<AccessClaims>(token, &key, &validation).is_ok()
}

#[tokio::test]
async fn rotation_signs_with_the_new_key_and_keeps_the_old_one_until_its_tokens_expire() {
    let auth = TestAuth::start().await.unwrap();
    auth.register("Acme", "ada@example.com", PASSWORD)
        .await
        .unwrap();
    let old = auth.login("ada@example.com", PASSWORD).await.unwrap();
    let old_kid = kid_of(&old.access_token);

    let rotated = auth.call::<RotateKeys>(None, NoParams {}).await.unwrap();
    assert_ne!(rotated.kid, old_kid);
    let mut both = vec![old_kid.clone(), rotated.kid.clone()];
    both.sort();
    assert_eq!(published(&auth).await, both);
    let mut listed = rotated.published.clone();
    listed.sort();
    assert_eq!(listed, both);

    let new = auth.login("ada@example.com", PASSWORD).await.unwrap();
    assert_eq!(kid_of(&new.access_token), rotated.kid);
    assert!(verifies(&auth, &new.access_token).await);
    // Not logged out: the old token still verifies, and its session still refreshes (with
    // the new key).
    assert!(verifies(&auth, &old.access_token).await);
    let refreshed = auth.refresh(&old.refresh_token).await.unwrap();
    assert_eq!(kid_of(&refreshed.access_token), rotated.kid);

    // Once the old key has been retired longer than a token lives, the next rotation
    // withdraws it.
    let mut conn = auth.conn().await.unwrap();
    diesel_async::RunQueryDsl::execute(
        diesel::sql_query(
            "UPDATE signing_keys SET retired_at = now() - interval '17 minutes' WHERE kid = $1",
        )
        .bind::<diesel::sql_types::Text, _>(&old_kid),
        &mut conn,
    )
    .await
    .unwrap();
    let third = auth.call::<RotateKeys>(None, NoParams {}).await.unwrap();
    let mut kept = vec![rotated.kid.clone(), third.kid.clone()];
    kept.sort();
    assert_eq!(published(&auth).await, kept);
    assert!(!verifies(&auth, &old.access_token).await);
    auth.stop().await;
}

#[tokio::test]
async fn every_replica_signs_with_a_key_rotated_elsewhere() {
    let mut auth = TestAuth::start().await.unwrap();
    let second = start(auth.env()).await.unwrap();
    auth.apps.push(crate::helpers::Running::spawn(second));
    auth.register("Acme", "ada@example.com", PASSWORD)
        .await
        .unwrap();
    let old_kid = kid_of(
        &auth
            .login("ada@example.com", PASSWORD)
            .await
            .unwrap()
            .access_token,
    );

    // The rotation happens outside both replicas (as on a third one): they learn of it only
    // through the `auth-keys` watch.
    let db = herald_kit::db::Db::connect(auth.db.url(), SCHEMA, "rotation-test", 2)
        .await
        .unwrap();
    let master = MasterKey::parse(MASTER_KEY).unwrap();
    let (key, retired) = rotate_signing_key(&db, &master).await.unwrap();
    assert_eq!(retired, std::slice::from_ref(&old_kid));
    publish_public_keys(&auth.js(), &db, 1).await.unwrap();

    // Refreshes (not logins, which are throttled) are answered by either replica.
    let mut refresh_token = auth
        .login("ada@example.com", PASSWORD)
        .await
        .unwrap()
        .refresh_token;
    // A guard against a hang, not a bound: under a loaded CI machine the watch can lag.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut in_a_row = 0;
    while in_a_row < 8 {
        if next_kid(&auth, &mut refresh_token).await == key.kid {
            in_a_row += 1;
        } else {
            in_a_row = 0;
            assert!(Instant::now() < deadline, "still signing with an old key");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    // With the first replica gone, the second answers alone: it signs with the new key.
    let first = auth.apps.remove(0);
    first.stop().await.unwrap();
    for _ in 0..3 {
        assert_eq!(next_kid(&auth, &mut refresh_token).await, key.kid);
    }
    auth.stop().await;
}
