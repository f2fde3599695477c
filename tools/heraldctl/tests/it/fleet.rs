//! The whole fleet in this process, each service built exactly as its binary builds it.

use base64::Engine;
use herald_testkit::{NatsServer, Running, Template, TestDb, postgres, service_env};
use std::net::SocketAddr;

pub static FLEET_TEMPLATE: Template = Template {
    name: "fleet",
    migrate: |url| {
        Box::pin(async move {
            use herald_kit::db::migrate;
            migrate(&url, herald_auth::SCHEMA, herald_auth::MIGRATIONS).await?;
            migrate(&url, herald_publisher::SCHEMA, herald_publisher::MIGRATIONS).await?;
            migrate(&url, herald_renderer::SCHEMA, herald_renderer::MIGRATIONS).await?;
            migrate(&url, herald_insights::SCHEMA, herald_insights::MIGRATIONS).await?;
            migrate(&url, herald_billing::SCHEMA, herald_billing::MIGRATIONS).await?;
            migrate(&url, herald_notifier::SCHEMA, herald_notifier::MIGRATIONS).await?;
            Ok(())
        })
    },
};

pub struct Fleet {
    /// Kept alive for the fleet's lifetime (dropping them stops the server / drops the database).
    _nats: NatsServer,
    _db: TestDb,
    pub sandbox: herald_sandbox::SandboxHandle,
    pub dir: tempfile::TempDir,
    pub gateway: SocketAddr,
    services: Vec<Running>,
}

impl Fleet {
    pub async fn start() -> anyhow::Result<Self> {
        let nats = NatsServer::start()?;
        let db = postgres().await?.fresh_db(&FLEET_TEMPLATE).await?;
        let sandbox = herald_sandbox::start(std::net::TcpListener::bind("127.0.0.1:0")?).await?;
        let dir = tempfile::tempdir()?;
        let master_key = base64::engine::general_purpose::STANDARD.encode(rand_bytes());
        let mailbox = dir.path().join("mailbox.mbox").display().to_string();
        let objects = dir.path().join("objects").display().to_string();
        let env = service_env(
            &nats.url(),
            Some(db.url()),
            &[
                ("HERALD_AUTH_MASTER_KEY", &master_key),
                // Fast hashing keeps the test quick; production parameters are the defaults.
                ("HERALD_AUTH_ARGON2_MEMORY_KIB", "1024"),
                // The route matrix asks for one address's reset email more often than the
                // default 3 per hour allow (each credential, and anonymously).
                ("HERALD_AUTH_RESET_MAX_PER_EMAIL", "50"),
                ("HERALD_PUBLISHER_ALLOW_PRIVATE_NETWORKS", "true"),
                ("HERALD_NOTIFIER_MAILBOX", &mailbox),
                ("HERALD_NOTIFIER_MAIL_SWEEP_SECS", "1"),
                ("HERALD_RENDERER_STORAGE_DIR", &objects),
                ("HERALD_GATEWAY_HTTP_ADDR", "127.0.0.1:0"),
            ],
        );
        let mut services = vec![
            Running::spawn(herald_auth::start(env.clone()).await?),
            Running::spawn(herald_publisher::start(env.clone()).await?),
            Running::spawn(herald_renderer::start(env.clone()).await?),
            Running::spawn(herald_insights::start(env.clone()).await?),
            Running::spawn(herald_billing::start(env.clone()).await?),
            Running::spawn(herald_notifier::start(env.clone()).await?),
        ];
        let gateway = herald_gateway::start_with_addr(env).await?;
        let gateway_addr = gateway.http_addr;
        services.push(Running::spawn(gateway.app));
        Ok(Self {
            _nats: nats,
            _db: db,
            sandbox,
            dir,
            gateway: gateway_addr,
            services,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.gateway)
    }

    /// The fleet's database (every service's schema), for tests that seed or inspect rows.
    pub fn db_url(&self) -> &str {
        self._db.url()
    }

    /// The fleet's nats-server, for tests that look at streams and consumers.
    pub fn nats_url(&self) -> String {
        self._nats.url()
    }

    pub fn mailbox(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("mailbox.mbox")).unwrap_or_default()
    }

    pub async fn stop(mut self) -> anyhow::Result<()> {
        for service in self.services.drain(..).rev() {
            service.stop().await?;
        }
        Ok(())
    }
}

fn rand_bytes() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = rand::random::<u8>() ^ (i as u8);
    }
    bytes
}

/// One answer from the gateway: status, `x-request-id`, the body as text and as JSON (`Null`
/// when it is not JSON).
pub struct Reply {
    pub status: reqwest::StatusCode,
    pub request_id: String,
    pub text: String,
    pub body: serde_json::Value,
}

/// Calls a gateway at `base` (an in-process `Fleet` or service processes) as a client would.
pub struct Api {
    pub http: reqwest::Client,
    base: String,
}

impl Api {
    pub fn new(base: impl Into<String>) -> anyhow::Result<Self> {
        Ok(Self {
            http: herald_kit::http::client(std::time::Duration::from_secs(20))?,
            base: base.into(),
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `request` sent as is (headers, raw bodies), read into a [`Reply`].
    pub async fn send(&self, request: reqwest::RequestBuilder) -> anyhow::Result<Reply> {
        let response = request.send().await?;
        let status = response.status();
        let request_id = response
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let text = response.text().await?;
        let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
        Ok(Reply {
            status,
            request_id,
            text,
            body,
        })
    }

    pub async fn call(
        &self,
        token: Option<&str>,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> anyhow::Result<Reply> {
        let mut request = self.http.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.send(request).await
    }

    /// Registers a tenant with its owner and logs the owner in: the login's token response.
    pub async fn owner(
        &self,
        tenant_name: &str,
        email: &str,
        password: &str,
    ) -> anyhow::Result<serde_json::Value> {
        use reqwest::{Method, StatusCode};
        use serde_json::json;
        let registered = self
            .call(
                None,
                Method::POST,
                "/v1/auth/register",
                Some(json!({"tenant_name": tenant_name, "email": email, "password": password})),
            )
            .await?;
        anyhow::ensure!(
            registered.status == StatusCode::CREATED,
            "register {email}: {} {}",
            registered.status,
            registered.text
        );
        let login = self
            .call(
                None,
                Method::POST,
                "/v1/auth/login",
                Some(json!({"email": email, "password": password})),
            )
            .await?;
        anyhow::ensure!(
            login.status == StatusCode::OK && login.body["access_token"].is_string(),
            "login {email}: {} {}",
            login.status,
            login.text
        );
        Ok(login.body)
    }
}
