//! `rpc.auth.login`: a JWT that verifies with the published key, a stored refresh token, and
//! one indistinguishable answer for every failure.

use crate::helpers::{PASSWORD, TestAuth, count};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use herald_auth::repo::refresh_tokens;
use herald_contracts::rpc::ErrorCode;
use herald_contracts::rpc::auth::{
    AccessClaims, KEYS_BUCKET, PublicKey, TOKEN_AUDIENCE, TOKEN_ISSUER,
};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use sha2::{Digest, Sha256};

/// tenant, user, token hash, expiry, use.
type StoredRefreshToken = (
    uuid::Uuid,
    uuid::Uuid,
    Vec<u8>,
    chrono::DateTime<Utc>,
    Option<chrono::DateTime<Utc>>,
);

fn validation() -> Validation {
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_audience(&[TOKEN_AUDIENCE]);
    validation.set_issuer(&[TOKEN_ISSUER]);
    validation.set_required_spec_claims(&["exp", "nbf", "aud", "iss", "sub"]);
    validation.validate_nbf = true;
    validation
}

#[tokio::test]
async fn login_returns_a_jwt_that_verifies_with_the_published_key() {
    let auth = TestAuth::start().await.unwrap();
    let registered = auth
        .register("Acme", "ada@example.com", PASSWORD)
        .await
        .unwrap();
    let before = Utc::now().timestamp();
    let tokens = auth.login("  ADA@example.com", PASSWORD).await.unwrap();
    assert_eq!(tokens.token_type, "Bearer");
    assert_eq!(tokens.expires_in, 900);

    // The header names a key that the gateway can find in the bucket.
    let header = jsonwebtoken::decode_header(&tokens.access_token).unwrap();
    assert_eq!(header.alg, Algorithm::EdDSA);
    let kid = header.kid.expect("kid in the header");
    let entry = auth
        .js()
        .get_key_value(KEYS_BUCKET)
        .await
        .unwrap()
        .get(&kid)
        .await
        .unwrap()
        .expect("the kid is published in auth-keys");
    let public: PublicKey = serde_json::from_slice(&entry).unwrap();
    assert_eq!(public.kid, kid);
    assert_eq!(public.alg, "EdDSA");
    assert_eq!(URL_SAFE_NO_PAD.decode(&public.x).unwrap().len(), 32);

    let key = DecodingKey::from_ed_components(&public.x).unwrap();
    let claims = jsonwebtoken::decode::<AccessClaims>(&tokens.access_token, &key, &validation())
        .unwrap()
        .claims;
    assert_eq!(claims.sub, registered.user_id.to_string());
    assert_eq!(claims.tid, registered.tenant_id.to_string());
    assert_eq!(claims.role, "owner");
    assert_eq!(claims.iss, TOKEN_ISSUER);
    assert_eq!(claims.aud, TOKEN_AUDIENCE);
    assert!(claims.iat >= before && claims.iat <= Utc::now().timestamp());
    assert_eq!(claims.nbf, claims.iat);
    assert_eq!(claims.exp, claims.iat + 900);
    assert!(uuid::Uuid::parse_str(&claims.jti).is_ok());

    // A different key does not verify it: the signature is really checked.
    let mut seed = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut seed);
    let other = ed25519_dalek::SigningKey::from_bytes(&seed);
    let other_x = URL_SAFE_NO_PAD.encode(other.verifying_key().to_bytes());
    let other_key = DecodingKey::from_ed_components(&other_x).unwrap();
    assert!(
        jsonwebtoken::decode::<AccessClaims>(&tokens.access_token, &other_key, &validation())
            .is_err()
    );

    // The refresh token is opaque (32 random bytes) and only its sha256 is stored.
    assert_eq!(
        URL_SAFE_NO_PAD.decode(&tokens.refresh_token).unwrap().len(),
        32
    );
    let mut conn = auth.conn().await.unwrap();
    let rows: Vec<StoredRefreshToken> = refresh_tokens::table
        .select((
            refresh_tokens::tenant_id,
            refresh_tokens::user_id,
            refresh_tokens::token_hash,
            refresh_tokens::expires_at,
            refresh_tokens::used_at,
        ))
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let (tenant, user, hash, expires_at, used_at) = &rows[0];
    assert_eq!(*tenant, registered.tenant_id.as_uuid());
    assert_eq!(*user, registered.user_id.as_uuid());
    let expected: [u8; 32] = Sha256::digest(tokens.refresh_token.as_bytes()).into();
    assert_eq!(hash.as_slice(), expected.as_slice());
    let days = (*expires_at - Utc::now()).num_hours() as f64 / 24.0;
    assert!((29.9..=30.0).contains(&days), "expires in {days} days");
    assert!(used_at.is_none());

    // Each login starts its own family.
    let again = auth.login("ada@example.com", PASSWORD).await.unwrap();
    assert_ne!(again.refresh_token, tokens.refresh_token);
    let families: Vec<uuid::Uuid> = refresh_tokens::table
        .select(refresh_tokens::family_id)
        .distinct()
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(families.len(), 2);
    drop(conn);
    auth.stop().await;
}

#[tokio::test]
async fn wrong_password_and_unknown_email_get_the_same_answer() {
    let auth = TestAuth::start().await.unwrap();
    auth.register("Acme", "ada@example.com", PASSWORD)
        .await
        .unwrap();

    let wrong_password = auth
        .login("ada@example.com", "not the right password")
        .await
        .unwrap_err();
    let unknown_email = auth
        .login("nobody@example.com", PASSWORD)
        .await
        .unwrap_err();
    let not_an_email = auth.login("nobody", PASSWORD).await.unwrap_err();
    let too_long = auth
        .login("ada@example.com", &"x".repeat(2000))
        .await
        .unwrap_err();
    for error in [&wrong_password, &unknown_email, &not_an_email, &too_long] {
        assert_eq!(error.code, ErrorCode::Unauthenticated);
        assert_eq!(error.message, "invalid email or password");
    }
    assert_eq!(wrong_password, unknown_email);

    let mut conn = auth.conn().await.unwrap();
    assert_eq!(count(&mut conn, "refresh_tokens").await.unwrap(), 0);
    drop(conn);
    auth.stop().await;
}
