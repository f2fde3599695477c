//! Starting insights and a sandbox for one test, publishing real envelopes, waiting.

use anyhow::{Context, Result, bail};
use herald_contracts::rpc::{Identity, Role};
use herald_contracts::{Envelope, Message, TenantId, UserId};
use herald_insights::{MIGRATIONS, SCHEMA};
use herald_kit::async_nats;
use herald_kit::db::Db;
use herald_kit::{App, Env};
use herald_sandbox::SandboxHandle;
use herald_testkit::{NatsServer, Template, TestDb, postgres};
use serde_json::{Value, json};
use std::future::Future;
use std::time::Duration;

pub static TEMPLATE: Template = Template {
    name: "insights",
    migrate: |url| {
        Box::pin(async move {
            herald_kit::db::migrate(&url, SCHEMA, MIGRATIONS).await?;
            Ok(())
        })
    },
};

pub struct Running {
    pub client: async_nats::Client,
    pub db: Db,
    pub sandbox: SandboxHandle,
    pub http: reqwest::Client,
    service: herald_testkit::Running,
    _test_db: TestDb,
    _nats: NatsServer,
}

/// insights on its own nats-server (durable consumer names are fixed, so parallel tests must
/// not share one), its own database, and a sandbox of its own.
pub async fn spawn_insights() -> Result<Running> {
    let sandbox = herald_sandbox::start(std::net::TcpListener::bind("127.0.0.1:0")?).await?;
    let nats = tokio::task::spawn_blocking(NatsServer::start).await??;
    let test_db = postgres().await?.fresh_db(&TEMPLATE).await?;
    let db = Db::connect(test_db.url(), SCHEMA, "insights-test", 4).await?;
    let env = Env::from_pairs([
        ("HERALD_NATS_URL", nats.url()),
        ("HERALD_DATABASE_URL", test_db.url().to_owned()),
        ("HERALD_OPS_ADDR", "127.0.0.1:0".to_owned()),
        ("HERALD_DB_POOL_SIZE", "4".to_owned()),
        ("HERALD_INSIGHTS_FETCH_TIMEOUT_SECS", "5".to_owned()),
    ]);
    let app: App = herald_insights::start(env).await?;
    let client = app.nats.clone();
    let service = herald_testkit::Running::spawn(app);
    Ok(Running {
        client,
        db,
        sandbox,
        http: herald_kit::http::client(Duration::from_secs(5))?,
        service,
        _test_db: test_db,
        _nats: nats,
    })
}

impl Running {
    pub async fn stop(self) -> Result<()> {
        self.service.stop().await?;
        self.sandbox.stop().await?;
        Ok(())
    }

    /// Creates a public status on the sandbox as the account of bearer token `t1`.
    pub async fn create_status(&self, text: &str) -> Result<String> {
        let created: Value = self
            .http
            .post(format!("{}/api/v1/statuses", self.sandbox.base_url()))
            .bearer_auth("t1")
            .json(&json!({ "status": text }))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        created["id"]
            .as_str()
            .map(str::to_owned)
            .context("status without id")
    }

    /// What anyone reading the status sees.
    pub async fn status(&self, id: &str) -> Result<Value> {
        Ok(self
            .http
            .get(format!("{}/api/v1/statuses/{id}", self.sandbox.base_url()))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?)
    }

    /// Publishes `envelope` on its subject with the given `Nats-Msg-Id`; returns its sequence.
    pub async fn publish<M: Message>(&self, envelope: &Envelope<M>, msg_id: &str) -> Result<u64> {
        let ack = herald_testkit::publish_envelope(&self.client, envelope, msg_id).await?;
        if ack.duplicate {
            bail!("{msg_id} was taken for a duplicate");
        }
        Ok(ack.sequence)
    }

    /// Waits until `consumer` on `stream` has acknowledged everything up to `sequence`.
    pub async fn wait_consumed(&self, stream: &str, consumer: &str, sequence: u64) -> Result<()> {
        herald_testkit::wait_for(
            &format!("{consumer} to ack {sequence}"),
            Duration::from_secs(30),
            || async {
                herald_testkit::consumer_caught_up(&self.client, stream, consumer, sequence)
                    .await
                    .then_some(())
            },
        )
        .await
    }
}

pub fn identity(tenant: TenantId) -> Identity {
    Identity {
        tenant_id: tenant,
        user_id: UserId::new(),
        role: Role::Viewer,
        api_key_id: None,
    }
}

/// Polls `check` until it is true (30 s at most).
pub async fn eventually<F, Fut>(what: &str, mut check: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<bool>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut last_error = None;
    loop {
        match check().await {
            Ok(true) => return Ok(()),
            Ok(false) => {}
            Err(error) => last_error = Some(error),
        }
        if tokio::time::Instant::now() > deadline {
            return match last_error {
                Some(error) => Err(error).context(format!("waiting for {what}")),
                None => bail!("timed out waiting for {what}"),
            };
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
