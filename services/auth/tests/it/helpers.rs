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
