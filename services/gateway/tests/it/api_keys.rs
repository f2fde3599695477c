//! API keys at the edge: keys are put into the `auth-api-keys` bucket as auth puts them, and
//! the service behind a route is answered on its request/reply subject on a private
//! nats-server. A key calls the routes its scopes open (as its creator, with its role and its
//! id), nothing else; a wrong, unknown, expired or revoked key is 401 (a revocation reaches a
//! second replica within a second); each key has its own rate limit; use is reported to auth.

use crate::support::{TestGateway, error_body};
use futures::StreamExt;
use herald_contracts::Envelope;
use herald_contracts::rpc::api_keys::{
    API_KEYS_BUCKET, ActiveApiKey, ApiKeyUsed, Scope, api_key_bucket_key, format_key,
};
use herald_contracts::rpc::notifier::{
    ListNotifications, ListNotificationsRequest, NotificationList,
};
use herald_contracts::rpc::{Identity, Rpc, RpcReply, RpcRequest};
use herald_contracts::{TenantId, UserId};
use herald_kit::async_nats::{self, jetstream, jetstream::kv};
use sha2::{Digest, Sha256};
use std::time::Duration;
use tokio::sync::mpsc;

/// The `auth-api-keys` bucket, created as auth creates it if it is not there yet.
async fn bucket(nats_url: &str) -> kv::Store {
    let js = jetstream::new(async_nats::connect(nats_url).await.unwrap());
    match js.get_key_value(API_KEYS_BUCKET).await {
        Ok(store) => store,
        Err(_) => js
            .create_key_value(kv::Config {
                bucket: API_KEYS_BUCKET.to_owned(),
                history: 1,
                ..Default::default()
            })
            .await
            .unwrap(),
    }
}

/// A key as auth would publish it.
struct TestApiKey {
    id: uuid::Uuid,
    /// `hk_<id>_<secret>`.
    key: String,
    entry: ActiveApiKey,
}

impl TestApiKey {
    fn new(tenant: TenantId, scopes: &[Scope]) -> TestApiKey {
        let id = uuid::Uuid::new_v4();
        let secret = format!("s{}", uuid::Uuid::new_v4().simple());
        let hash: String = Sha256::digest(secret.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        TestApiKey {
            id,
            key: format_key(&id, &secret),
            entry: ActiveApiKey {
                tenant_id: tenant,
                created_by: UserId::new(),
                secret_sha256: hash,
                scopes: scopes.to_vec(),
                role: Scope::role_of(scopes),
                expires_at: None,
            },
        }
    }

    async fn publish(&self, store: &kv::Store) {
        store
            .put(
                api_key_bucket_key(&self.id),
                serde_json::to_vec(&self.entry).unwrap().into(),
            )
            .await
            .unwrap();
    }

    /// The identity services get for this key.
    fn identity(&self) -> Identity {
        Identity {
            tenant_id: self.entry.tenant_id,
            user_id: self.entry.created_by,
            role: self.entry.role,
            api_key_id: Some(self.id),
        }
    }
}

/// Answers every `ListNotifications` call with an empty list; reports each caller.
async fn notifier(nats_url: &str) -> mpsc::UnboundedReceiver<Option<Identity>> {
    let client = async_nats::connect(nats_url).await.unwrap();
    let mut requests = client
        .subscribe(ListNotifications::subject())
        .await
        .unwrap();
    client.flush().await.unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(msg) = requests.next().await {
            let request: RpcRequest<ListNotificationsRequest> =
                serde_json::from_slice(&msg.payload).unwrap();
            let _ = tx.send(request.identity);
            let reply = RpcReply::Ok(NotificationList { items: vec![] });
            if let Some(subject) = msg.reply {
                client
                    .publish(subject, serde_json::to_vec(&reply).unwrap().into())
                    .await
                    .unwrap();
            }
        }
    });
    rx
}

async fn status(request: reqwest::RequestBuilder) -> u16 {
    request.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn a_key_calls_what_its_scopes_open_as_its_creator_and_nothing_else() {
    let nats = herald_testkit::NatsServer::start().unwrap();
    let store = bucket(&nats.url()).await;
    let tenant = TenantId::new();
    let key = TestApiKey::new(tenant, &[Scope::NotificationsRead]);
    key.publish(&store).await;
    let mut expired = TestApiKey::new(tenant, &[Scope::NotificationsRead]);
    expired.entry.expires_at = Some(chrono::Utc::now() - chrono::Duration::seconds(1));
    expired.publish(&store).await;
    let mut callers = notifier(&nats.url()).await;
    let gw = TestGateway::start_on(&nats.url()).await;

    // In scope: as a bearer token or in X-Api-Key; the service sees the creator, the key's
    // role and the key's id.
    let response = gw
        .get("/v1/notifications")
        .bearer_auth(&key.key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(callers.recv().await.unwrap(), Some(key.identity()));
    let response = gw
        .get("/v1/notifications")
        .header("x-api-key", &key.key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(callers.recv().await.unwrap(), Some(key.identity()));

    // Out of scope, and routes keys may never call: 403 before any service is asked.
    for (method, path) in [
        (reqwest::Method::GET, "/v1/posts"),
        (reqwest::Method::GET, "/v1/usage"),
        (reqwest::Method::GET, "/v1/members"),
        (reqwest::Method::POST, "/v1/api-keys"),
        (reqwest::Method::GET, "/v1/api-keys"),
        (reqwest::Method::POST, "/v1/auth/logout"),
    ] {
        let response = gw
            .http
            .request(method.clone(), gw.url(path))
            .bearer_auth(&key.key)
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap();
        let body = error_body(response, 403).await;
        assert_eq!(body["error"]["code"], "forbidden", "{method} {path}");
    }

    // Not a key that works: 401, whatever the route.
    let wrong_secret = format!("{}x", key.key);
    let unknown = TestApiKey::new(tenant, &[Scope::NotificationsRead]).key;
    for bad in [
        &wrong_secret,
        &unknown,
        &expired.key,
        &"hk_nothex_secret".to_owned(),
    ] {
        for path in ["/v1/notifications", "/v1/members"] {
            let response = gw.get(path).bearer_auth(bad).send().await.unwrap();
            let body = error_body(response, 401).await;
            assert_eq!(body["error"]["code"], "unauthenticated", "{bad} {path}");
            let response = gw.get(path).header("x-api-key", bad).send().await.unwrap();
            error_body(response, 401).await;
        }
    }
    // A key and a token at once: ambiguous, refused.
    let response = gw
        .get("/v1/notifications")
        .header("x-api-key", &key.key)
        .bearer_auth("some.jwt.token")
        .send()
        .await
        .unwrap();
    error_body(response, 401).await;
    assert!(
        callers.try_recv().is_err(),
        "no refused call reached the service"
    );
}

#[tokio::test]
async fn a_revoked_key_is_refused_by_every_replica() {
    let nats = herald_testkit::NatsServer::start().unwrap();
    let store = bucket(&nats.url()).await;
    let key = TestApiKey::new(TenantId::new(), &[Scope::NotificationsRead]);
    key.publish(&store).await;
    let _callers = notifier(&nats.url()).await;
    // Both started after the key was put: each reads the bucket before it serves.
    let a = TestGateway::start_on(&nats.url()).await;
    let b = TestGateway::start_on(&nats.url()).await;
    for gw in [&a, &b] {
        assert_eq!(
            status(gw.get("/v1/notifications").bearer_auth(&key.key)).await,
            200
        );
    }

    // Revoked (auth deletes the entry), neither replica restarted.
    store.delete(api_key_bucket_key(&key.id)).await.unwrap();
    // How long it took is printed (the bound is 1 s); the limit only guards a hang.
    for gw in [&b, &a] {
        herald_testkit::time_until(
            "API key revocation applied",
            Duration::from_secs(30),
            || async {
                let response = gw
                    .get("/v1/notifications")
                    .bearer_auth(&key.key)
                    .send()
                    .await;
                response.is_ok_and(|r| r.status().as_u16() == 401)
            },
        )
        .await
        .unwrap();
    }
    // A key put after start is taken at once too.
    let later = TestApiKey::new(TenantId::new(), &[Scope::NotificationsRead]);
    later.publish(&store).await;
    herald_testkit::wait_for("the new key accepted", Duration::from_secs(30), || async {
        let response = b
            .get("/v1/notifications")
            .bearer_auth(&later.key)
            .send()
            .await
            .ok()?;
        (response.status().as_u16() == 200).then_some(())
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn each_key_has_its_own_rate_limit() {
    let nats = herald_testkit::NatsServer::start().unwrap();
    let store = bucket(&nats.url()).await;
    let tenant = TenantId::new();
    let first = TestApiKey::new(tenant, &[Scope::NotificationsRead]);
    let second = TestApiKey::new(tenant, &[Scope::NotificationsRead]);
    first.publish(&store).await;
    second.publish(&store).await;
    let _callers = notifier(&nats.url()).await;
    let gw = TestGateway::start_with(
        &nats.url(),
        &[
            ("HERALD_GATEWAY_RATE_API_KEY", "2"),
            ("HERALD_GATEWAY_RATE_WINDOW_SECS", "3600"),
        ],
    )
    .await;
    for _ in 0..2 {
        assert_eq!(
            status(gw.get("/v1/notifications").bearer_auth(&first.key)).await,
            200
        );
    }
    let response = gw
        .get("/v1/notifications")
        .bearer_auth(&first.key)
        .send()
        .await
        .unwrap();
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3600).contains(&retry_after), "{retry_after}");
    let body = error_body(response, 429).await;
    assert_eq!(body["error"]["code"], "rate_limited");
    // The tenant's other key has its own allowance.
    assert_eq!(
        status(gw.get("/v1/notifications").bearer_auth(&second.key)).await,
        200
    );
}

#[tokio::test]
async fn use_is_reported_once_a_minute_per_key() {
    let nats = herald_testkit::NatsServer::start().unwrap();
    let store = bucket(&nats.url()).await;
    let tenant = TenantId::new();
    let first = TestApiKey::new(tenant, &[Scope::NotificationsRead]);
    let second = TestApiKey::new(tenant, &[Scope::NotificationsRead]);
    first.publish(&store).await;
    second.publish(&store).await;
    let _callers = notifier(&nats.url()).await;
    let client = async_nats::connect(nats.url()).await.unwrap();
    let mut reports = client.subscribe("apikeys.used.*").await.unwrap();
    client.flush().await.unwrap();
    let gw = TestGateway::start_on(&nats.url()).await;

    for _ in 0..3 {
        assert_eq!(
            status(gw.get("/v1/notifications").bearer_auth(&first.key)).await,
            200
        );
    }
    assert_eq!(
        status(gw.get("/v1/notifications").bearer_auth(&second.key)).await,
        200
    );
    // Reports leave one connection in order: had `first` been reported twice, its second
    // report would come before `second`'s.
    let mut seen = Vec::new();
    while seen.last() != Some(&second.id) {
        let msg = tokio::time::timeout(Duration::from_secs(10), reports.next())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(msg.subject.as_str(), format!("apikeys.used.{tenant}"));
        let report: Envelope<ApiKeyUsed> = serde_json::from_slice(&msg.payload).unwrap();
        assert_eq!(report.tenant_id, tenant);
        seen.push(report.data.key_id);
    }
    assert_eq!(seen, [first.id, second.id]);
}
