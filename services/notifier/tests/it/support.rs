//! Starting the notifier for one test, publishing real envelopes, waiting for effects.

use anyhow::{Context, Result, bail};
use herald_contracts::rpc::{Identity, Role};
use herald_contracts::{Envelope, Message, TenantId, UserId};
use herald_kit::async_nats;
use herald_kit::db::Db;
use herald_kit::{App, Env};
use herald_notifier::{MIGRATIONS, SCHEMA};
use herald_testkit::{NatsServer, Template, TestDb, postgres};
use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

pub static TEMPLATE: Template = Template {
    name: "notifier",
    migrate: |url| {
        Box::pin(async move {
            herald_kit::db::migrate(&url, SCHEMA, MIGRATIONS).await?;
            Ok(())
        })
    },
};

/// A fresh database with notifier's schema, and a pool on it.
pub async fn fresh_db() -> Result<(TestDb, Db)> {
    let test_db = postgres().await?.fresh_db(&TEMPLATE).await?;
    let db = Db::connect(test_db.url(), SCHEMA, "notifier-test", 4).await?;
    Ok((test_db, db))
}

pub struct Running {
    pub client: async_nats::Client,
    pub db: Db,
    pub mailbox: PathBuf,
    service: herald_testkit::Running,
    // Dropped last: the app must stop before its server and database go.
    _dir: tempfile::TempDir,
    _test_db: TestDb,
    _nats: NatsServer,
}

/// The notifier on its own nats-server (durable consumer names are fixed, so tests running in
/// parallel must not share a server) and its own database and mailbox.
pub async fn spawn_notifier() -> Result<Running> {
    let nats = tokio::task::spawn_blocking(NatsServer::start).await??;
    let (test_db, db) = fresh_db().await?;
    let dir = tempfile::tempdir()?;
    let mailbox = dir.path().join("mail/mailbox.mbox");
    let env = Env::from_pairs([
        ("HERALD_NATS_URL", nats.url()),
        ("HERALD_DATABASE_URL", test_db.url().to_owned()),
        ("HERALD_OPS_ADDR", "127.0.0.1:0".to_owned()),
        ("HERALD_DB_POOL_SIZE", "4".to_owned()),
        (
            "HERALD_NOTIFIER_MAILBOX",
            mailbox.to_string_lossy().into_owned(),
        ),
        ("HERALD_NOTIFIER_FROM", "herald@notifier.test".to_owned()),
    ]);
    let app: App = herald_notifier::start(env).await?;
    let client = app.nats.clone();
    let service = herald_testkit::Running::spawn(app);
    Ok(Running {
        client,
        db,
        mailbox,
        service,
        _dir: dir,
        _test_db: test_db,
        _nats: nats,
    })
}

impl Running {
    pub async fn stop(self) -> Result<()> {
        self.service.stop().await?;
        Ok(())
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

    pub fn mailbox_text(&self) -> String {
        std::fs::read_to_string(&self.mailbox).unwrap_or_default()
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

/// Message-ID header lines in an mbox text, counted independently of the service's parser.
pub fn message_id_lines(mbox: &str) -> Vec<String> {
    mbox.lines()
        .filter(|line| line.starts_with("Message-ID: <") && line.ends_with('>'))
        .map(str::to_owned)
        .collect()
}

/// Polls `check` until it is true (20 s at most).
pub async fn eventually<F, Fut>(what: &str, mut check: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<bool>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
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
