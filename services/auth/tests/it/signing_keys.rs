//! Signing keys: one for the fleet however many replicas start at once, sealed at rest, and
//! published to the `auth-keys` bucket.

use crate::helpers::{OTHER_MASTER_KEY, PASSWORD, Running, TestAuth, count, env};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use futures::TryStreamExt;
use herald_auth::repo::signing_keys;
use herald_auth::start;
use herald_contracts::rpc::auth::{KEYS_BUCKET, PublicKey};
use herald_kit::KitError;

#[tokio::test]
async fn replicas_started_together_share_one_signing_key() {
    let mut auth = TestAuth::infrastructure().await.unwrap();
    let (a, b) = tokio::join!(start(auth.env()), start(auth.env()));
    auth.apps.push(Running::spawn(a.unwrap()));
    auth.apps.push(Running::spawn(b.unwrap()));

    let mut conn = auth.conn().await.unwrap();
    assert_eq!(count(&mut conn, "signing_keys").await.unwrap(), 1);
    let (kid, sealed, public_x): (String, Vec<u8>, String) = signing_keys::table
        .select((
            signing_keys::kid,
            signing_keys::private_key,
            signing_keys::public_x,
        ))
        .first(&mut conn)
        .await
        .unwrap();
    // Version byte, 24-byte nonce, 32-byte seed sealed, 16-byte tag.
    assert_eq!(sealed.len(), 1 + 24 + 32 + 16);
    assert_eq!(kid, herald_auth::keys::thumbprint(&public_x));

    let store = auth.js().get_key_value(KEYS_BUCKET).await.unwrap();
    assert_eq!(store.status().await.unwrap().history(), 1);
    let kids: Vec<String> = store.keys().await.unwrap().try_collect().await.unwrap();
    assert_eq!(kids, vec![kid.clone()]);
    let public: PublicKey =
        serde_json::from_slice(&store.get(&kid).await.unwrap().unwrap()).unwrap();
    assert_eq!(public.x, public_x);

    // Tokens from either replica name that key.
    auth.register("Acme", "ada@example.com", PASSWORD)
        .await
        .unwrap();
    for _ in 0..4 {
        let tokens = auth.login("ada@example.com", PASSWORD).await.unwrap();
        let header = jsonwebtoken::decode_header(&tokens.access_token).unwrap();
        assert_eq!(header.kid.as_deref(), Some(kid.as_str()));
    }

    // A later start (a restart or a third replica) reuses it and re-publishes idempotently.
    let third = start(auth.env()).await.unwrap();
    auth.apps.push(Running::spawn(third));
    assert_eq!(count(&mut conn, "signing_keys").await.unwrap(), 1);
    let kids: Vec<String> = store.keys().await.unwrap().try_collect().await.unwrap();
    assert_eq!(kids, vec![kid]);
    drop(conn);
    auth.stop().await;
}

#[tokio::test]
async fn a_different_master_key_cannot_open_the_signing_key() {
    let mut auth = TestAuth::start().await.unwrap();
    let wrong = env(&auth.nats.url(), auth.db.url(), OTHER_MASTER_KEY);
    match start(wrong).await {
        Err(KitError::Config(error)) => {
            assert_eq!(error.var, "HERALD_AUTH_MASTER_KEY");
            let shown = error.to_string();
            assert!(!shown.contains(OTHER_MASTER_KEY), "{shown}");
            assert!(!shown.contains(crate::helpers::MASTER_KEY), "{shown}");
        }
        Err(other) => panic!("expected a configuration error, got {other}"),
        Ok(app) => {
            auth.apps.push(Running::spawn(app));
            panic!("started with the wrong master key");
        }
    }
    auth.stop().await;
}
