//! Starting a gateway, signing keys published to the `auth-keys` bucket, and tokens.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use herald_contracts::rpc::auth::{
    AccessClaims, KEYS_BUCKET, PublicKey, TOKEN_AUDIENCE, TOKEN_ISSUER,
};
use herald_gateway::start_with_addr;
use herald_kit::Env;
use herald_kit::async_nats::jetstream::{self, kv};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub struct TestGateway {
    pub base: String,
    pub ops: SocketAddr,
    pub http: reqwest::Client,
    shutdown: CancellationToken,
    pub run: Option<JoinHandle<Result<(), herald_kit::KitError>>>,
}

impl TestGateway {
    /// A gateway on the test binary's shared nats-server.
    pub async fn start() -> TestGateway {
        let url = herald_testkit::shared_nats().expect("nats-server").url();
        Self::start_on(&url).await
    }

    pub async fn start_on(nats_url: &str) -> TestGateway {
        Self::start_with(nats_url, &[]).await
    }

    /// A gateway on `nats_url` with extra (or overriding) environment variables.
    pub async fn start_with(nats_url: &str, extra: &[(&str, &str)]) -> TestGateway {
        let base = [
            ("HERALD_NATS_URL", nats_url),
            ("HERALD_OPS_ADDR", "127.0.0.1:0"),
            ("HERALD_GATEWAY_HTTP_ADDR", "127.0.0.1:0"),
            ("HERALD_GATEWAY_HTTP_WORKERS", "2"),
            ("HERALD_SHUTDOWN_TIMEOUT_SECS", "5"),
            ("HERALD_LOG", "warn"),
            // Tests share one nats-server, so every gateway counts 127.0.0.1 together: limits
            // far above any suite's traffic (limits.rs sets its own on private servers).
            ("HERALD_GATEWAY_RATE_IP", "1000000"),
            ("HERALD_GATEWAY_RATE_AUTH_IP", "1000000"),
            ("HERALD_GATEWAY_RATE_TENANT", "1000000"),
        ];
        let env = Env::from_pairs(base.iter().chain(extra).copied());
        let gateway = start_with_addr(env).await.expect("gateway starts");
        let token = gateway.app.shutdown_token();
        let ops = gateway.app.ops_addr();
        let run = tokio::spawn(gateway.app.run());
        TestGateway {
            base: format!("http://{}", gateway.http_addr),
            ops,
            http: herald_kit::http::client(Duration::from_secs(30)).expect("client"),
            shutdown: token,
            run: Some(run),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.get(self.url(path))
    }

    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.post(self.url(path))
    }

    pub fn patch(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.patch(self.url(path))
    }

    pub fn delete(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.delete(self.url(path))
    }

    pub fn stop(&self) {
        self.shutdown.cancel()
    }
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Reads a response as the uniform error body, checking its shape and the request id.
pub async fn error_body(response: reqwest::Response, status: u16) -> serde_json::Value {
    assert_eq!(response.status().as_u16(), status, "status");
    let request_id = response
        .headers()
        .get("x-request-id")
        .expect("x-request-id on every response")
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        response.headers().get("content-type").unwrap(),
        "application/json"
    );
    let body: serde_json::Value = response.json().await.expect("JSON error body");
    let error = body["error"].as_object().expect("error object");
    assert_eq!(error.len(), 3, "exactly code, message, request_id: {body}");
    assert!(
        error["code"].as_str().is_some_and(|c| !c.is_empty()),
        "{body}"
    );
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert_eq!(error["request_id"], request_id.as_str(), "{body}");
    body
}

/// An Ed25519 signing key made by the test, publishable to the keys bucket.
pub struct TestKey {
    pub kid: String,
    seed: [u8; 32],
}

impl TestKey {
    pub fn new() -> TestKey {
        let mut seed = [0u8; 32];
        seed[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        seed[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        TestKey {
            kid: format!("test-{}", uuid::Uuid::new_v4().simple()),
            seed,
        }
    }

    /// The raw public key, base64url without padding (the JWK `x`).
    pub fn x(&self) -> String {
        let signing = ed25519_dalek::SigningKey::from_bytes(&self.seed);
        URL_SAFE_NO_PAD.encode(signing.verifying_key().to_bytes())
    }

    /// PKCS#8 v1 DER of the Ed25519 seed, the form jsonwebtoken signs with.
    fn encoding_key(&self) -> EncodingKey {
        let mut der = vec![
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
            0x04, 0x20,
        ];
        der.extend_from_slice(&self.seed);
        EncodingKey::from_ed_der(&der)
    }

    /// Puts the public key into the `auth-keys` bucket, as auth does.
    pub async fn publish(&self, nats_url: &str) {
        let store = keys_bucket(nats_url).await;
        let key = PublicKey {
            kid: self.kid.clone(),
            alg: "EdDSA".into(),
            x: self.x(),
            created_at: chrono::Utc::now(),
        };
        store
            .put(&self.kid, serde_json::to_vec(&key).unwrap().into())
            .await
            .expect("key published");
    }

    /// Removes the public key from the bucket, as retiring a compromised key would.
    pub async fn unpublish(&self, nats_url: &str) {
        keys_bucket(nats_url)
            .await
            .delete(&self.kid)
            .await
            .expect("key deleted");
    }

    pub fn token(&self, role: &str) -> String {
        self.sign(&self.kid, claims(role, 900))
    }

    pub fn sign(&self, kid: &str, claims: AccessClaims) -> String {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&header, &claims, &self.encoding_key()).expect("signed")
    }
}

/// The `auth-keys` bucket, created if auth (absent here) has not.
async fn keys_bucket(nats_url: &str) -> kv::Store {
    let client = herald_kit::async_nats::connect(nats_url).await.unwrap();
    let js = jetstream::new(client);
    match js.get_key_value(KEYS_BUCKET).await {
        Ok(store) => store,
        Err(_) => js
            .create_key_value(kv::Config {
                bucket: KEYS_BUCKET.to_owned(),
                history: 1,
                ..Default::default()
            })
            .await
            .expect("keys bucket"),
    }
}

/// Claims for a fresh tenant and user, valid from now for `ttl_secs` (negative: expired).
pub fn claims(role: &str, ttl_secs: i64) -> AccessClaims {
    let now = chrono::Utc::now().timestamp();
    AccessClaims {
        sub: uuid::Uuid::now_v7().to_string(),
        tid: uuid::Uuid::now_v7().to_string(),
        role: role.to_owned(),
        iss: TOKEN_ISSUER.to_owned(),
        aud: TOKEN_AUDIENCE.to_owned(),
        iat: now.min(now + ttl_secs) - 60,
        nbf: now.min(now + ttl_secs) - 60,
        exp: now + ttl_secs,
        jti: uuid::Uuid::new_v4().to_string(),
        sid: None,
    }
}

pub fn shared_nats_url() -> String {
    herald_testkit::shared_nats().expect("nats-server").url()
}

/// A gateway with a published key, ready to take tokens.
pub async fn gateway_with_key() -> (TestGateway, TestKey) {
    let key = TestKey::new();
    key.publish(&shared_nats_url()).await;
    (TestGateway::start().await, key)
}

/// Claims like `claims(role, 900)` in session `sid`.
pub fn session_claims(role: &str, sid: uuid::Uuid) -> AccessClaims {
    AccessClaims {
        sid: Some(sid.to_string()),
        ..claims(role, 900)
    }
}

/// Puts a revocation into the `auth-revocations` bucket, as auth does (the bucket is created
/// if no gateway has yet).
pub async fn put_revocation(nats_url: &str, key: &str, revoked_at: chrono::DateTime<chrono::Utc>) {
    use herald_contracts::rpc::auth::{REVOCATIONS_BUCKET, Revocation};
    let client = herald_kit::async_nats::connect(nats_url).await.unwrap();
    let js = jetstream::new(client);
    let store = match js.get_key_value(REVOCATIONS_BUCKET).await {
        Ok(store) => store,
        Err(_) => js
            .create_key_value(kv::Config {
                bucket: REVOCATIONS_BUCKET.to_owned(),
                history: 1,
                max_age: Duration::from_secs(
                    herald_contracts::rpc::auth::REVOCATION_RETENTION_SECS,
                ),
                ..Default::default()
            })
            .await
            .expect("revocations bucket"),
    };
    store
        .put(
            key,
            serde_json::to_vec(&Revocation { revoked_at })
                .unwrap()
                .into(),
        )
        .await
        .expect("revocation put");
}
