//! Starting auth in-process against a private nats-server and a fresh database.

use anyhow::Result;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use herald_auth::{MIGRATIONS, SCHEMA, start};
use herald_contracts::rpc::RpcError;
use herald_contracts::rpc::auth::{
    Login, LoginRequest, Register, RegisterRequest, RegisterResponse, TokenResponse,
};
use herald_kit::Env;
use herald_kit::async_nats;
use herald_testkit::{NatsServer, Template, TestDb, postgres};
use std::time::Duration;

/// A master key for tests only (32 bytes, base64).
pub const MASTER_KEY: &str = "dGVzdC1vbmx5LW1hc3Rlci1rZXktMzItYnl0ZXMhISE=";
pub const OTHER_MASTER_KEY: &str = "b3RoZXItdGVzdC1tYXN0ZXIta2V5LTMyLWJ5dGVzISE=";
pub const PASSWORD: &str = "correct horse battery staple";
pub const TIMEOUT: Duration = Duration::from_secs(15);

static TEMPLATE: Template = Template {
    name: "auth",
    migrate: |url| {
        Box::pin(async move {
            herald_kit::db::migrate(&url, SCHEMA, MIGRATIONS).await?;
            Ok(())
        })
    },
};

/// The environment a test instance runs with. Argon2 is made cheap so tests stay fast; the
/// defaults are covered by the unit tests of the config.
pub fn env(nats_url: &str, database_url: &str, master_key: &str) -> Env {
    Env::from_pairs([
        ("HERALD_NATS_URL", nats_url),
        ("HERALD_DATABASE_URL", database_url),
        ("HERALD_OPS_ADDR", "127.0.0.1:0"),
        ("HERALD_LOG", "warn"),
        ("HERALD_SHUTDOWN_TIMEOUT_SECS", "5"),
        ("HERALD_DB_POOL_SIZE", "4"),
        ("HERALD_AUTH_MASTER_KEY", master_key),
        ("HERALD_AUTH_ARGON2_MEMORY_KIB", "1024"),
        ("HERALD_AUTH_ARGON2_ITERATIONS", "1"),
    ])
}

pub use herald_testkit::Running;

/// One auth instance with its own nats-server and database, and a client to call it.
pub struct TestAuth {
    pub nats: NatsServer,
    pub db: TestDb,
    pub client: async_nats::Client,
    pub apps: Vec<Running>,
}

impl TestAuth {
    pub async fn start() -> Result<Self> {
        let mut test = Self::infrastructure().await?;
        let app = start(test.env()).await?;
        test.apps.push(Running::spawn(app));
        Ok(test)
    }

    /// The servers and the client, with no auth instance yet.
    pub async fn infrastructure() -> Result<Self> {
        let nats = NatsServer::start()?;
        let db = postgres().await?.fresh_db(&TEMPLATE).await?;
        let client = async_nats::connect(nats.url()).await?;
        Ok(Self {
            nats,
            db,
            client,
            apps: Vec::new(),
        })
    }

    pub fn env(&self) -> Env {
        env(&self.nats.url(), self.db.url(), MASTER_KEY)
    }

    pub fn js(&self) -> async_nats::jetstream::Context {
        async_nats::jetstream::new(self.client.clone())
    }

    /// A connection to the test database with auth's schema on the search path.
    pub async fn conn(&self) -> Result<AsyncPgConnection> {
        use diesel_async::SimpleAsyncConnection;
        let mut conn = AsyncPgConnection::establish(self.db.url()).await?;
        conn.batch_execute(&format!("SET search_path TO {SCHEMA}"))
            .await?;
        Ok(conn)
    }

    pub async fn register(
        &self,
        tenant_name: &str,
        email: &str,
        password: &str,
    ) -> Result<RegisterResponse, RpcError> {
        herald_kit::rpc::call::<Register>(
            &self.client,
            "req-1",
            None,
            RegisterRequest {
                tenant_name: tenant_name.into(),
                email: email.into(),
                password: password.into(),
            },
            TIMEOUT,
        )
        .await
    }

    pub async fn login(&self, email: &str, password: &str) -> Result<TokenResponse, RpcError> {
        herald_kit::rpc::call::<Login>(
            &self.client,
            "req-2",
            None,
            LoginRequest {
                email: email.into(),
                password: password.into(),
                client_ip: None,
                tenant_id: None,
            },
            TIMEOUT,
        )
        .await
    }

    pub async fn stop(self) {
        for app in self.apps {
            if let Err(error) = app.stop().await {
                panic!("auth did not stop cleanly: {error}");
            }
        }
    }
}

/// `SELECT count(*) FROM <table>` in auth's schema.
pub async fn count(conn: &mut AsyncPgConnection, table: &str) -> Result<i64> {
    use diesel_async::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let row: Count = diesel::sql_query(format!("SELECT count(*) AS n FROM {table}"))
        .get_result(conn)
        .await?;
    Ok(row.n)
}

/// Sessions: calling any endpoint as a caller, and reading tokens.
#[allow(clippy::expect_used)] // test helpers: a malformed token is a failed test
impl TestAuth {
    /// Calls `R` as `identity` (as the gateway would after verifying a token).
    pub async fn call<R: herald_contracts::rpc::Rpc>(
        &self,
        identity: Option<herald_contracts::rpc::Identity>,
        request: R::Request,
    ) -> Result<R::Response, RpcError> {
        herald_kit::rpc::call::<R>(&self.client, "req-session", identity, request, TIMEOUT).await
    }

    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenResponse, RpcError> {
        self.call::<herald_contracts::rpc::auth::Refresh>(
            None,
            herald_contracts::rpc::auth::RefreshRequest {
                refresh_token: refresh_token.into(),
            },
        )
        .await
    }

    /// The value of `key` in the `auth-revocations` bucket, if any.
    pub async fn revocation(&self, key: &str) -> Option<herald_contracts::rpc::auth::Revocation> {
        let store = self
            .js()
            .get_key_value(herald_contracts::rpc::auth::REVOCATIONS_BUCKET)
            .await
            .ok()?;
        let value = store.get(key).await.ok()??;
        Some(serde_json::from_slice(&value).expect("a JSON revocation"))
    }
}

/// The claims of an access token, read without verifying it (tests verify elsewhere).
#[allow(clippy::expect_used)] // test helpers: a malformed token is a failed test
pub fn claims_of(access_token: &str) -> herald_contracts::rpc::auth::AccessClaims {
    use base64::Engine;
    let payload = access_token.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url payload");
    serde_json::from_slice(&bytes).expect("claims")
}

/// The caller an access token names, as the gateway passes it on.
#[allow(clippy::expect_used)] // test helpers: a malformed token is a failed test
pub fn identity_of(access_token: &str) -> herald_contracts::rpc::Identity {
    let claims = claims_of(access_token);
    herald_contracts::rpc::Identity {
        tenant_id: claims.tid.parse().expect("tenant id"),
        user_id: claims.sub.parse().expect("user id"),
        role: herald_contracts::rpc::Role::parse(&claims.role).expect("role"),
        api_key_id: None,
    }
}

/// The session (`sid`) of an access token.
#[allow(clippy::expect_used)] // test helpers: a malformed token is a failed test
pub fn session_of(access_token: &str) -> uuid::Uuid {
    claims_of(access_token)
        .sid
        .expect("a sid claim")
        .parse()
        .expect("a uuid sid")
}
