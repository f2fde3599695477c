//! publisher's integration tests: a real nats-server per test, a fresh database per test, the
//! sandbox standing in for Mastodon.

// A failed unwrap is a failed test, with the value in the message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod adapters;
mod crash;
mod dead_letters;
mod lifecycle;
mod media;
mod publish;
mod rls;
mod token_encryption;

use herald_contracts::PostId;
use herald_contracts::TenantId;
use herald_contracts::messages::Platform;
use herald_contracts::rpc::publisher::{
    AccountView, ConnectAccount, ConnectAccountRequest, GetPost, GetPostRequest, PostStatus,
    PostView,
};
use herald_contracts::rpc::{Identity, Role};
use herald_contracts::rpc::{Rpc, RpcError};

use herald_testkit::{NatsServer, Template, TestDb, identity, postgres, wait_for};
use std::time::Duration;

pub static TEMPLATE: Template = Template {
    name: "publisher",
    migrate: |url| {
        Box::pin(async move {
            herald_kit::db::migrate(&url, herald_publisher::SCHEMA, herald_publisher::MIGRATIONS)
                .await?;
            Ok(())
        })
    },
};

pub const RPC_TIMEOUT: Duration = Duration::from_secs(15);

pub struct World {
    pub nats: NatsServer,
    pub db: TestDb,
    pub sandbox: herald_sandbox::SandboxHandle,
    pub client: herald_kit::async_nats::Client,
    pub tenant: TenantId,
    pub caller: Identity,
}

impl World {
    pub async fn new() -> anyhow::Result<Self> {
        Self::with_template(&TEMPLATE).await
    }

    /// A world whose database is made from `template` (e.g. with another service's schema).
    pub async fn with_template(template: &'static Template) -> anyhow::Result<Self> {
        let nats = NatsServer::start()?;
        let db = postgres().await?.fresh_db(template).await?;
        let sandbox = herald_sandbox::start(std::net::TcpListener::bind("127.0.0.1:0")?).await?;
        let client = herald_kit::async_nats::connect(nats.url()).await?;
        let tenant = TenantId::new();
        Ok(Self {
            nats,
            db,
            sandbox,
            client,
            tenant,
            caller: identity(tenant, Role::Editor),
        })
    }

    pub fn env_pairs(&self) -> Vec<(String, String)> {
        vec![
            ("HERALD_NATS_URL".into(), self.nats.url()),
            ("HERALD_DATABASE_URL".into(), self.db.url().into()),
            (
                "HERALD_PUBLISHER_ALLOW_PRIVATE_NETWORKS".into(),
                "true".into(),
            ),
            ("HERALD_OUTBOX_SWEEP_SECS".into(), "1".into()),
            ("HERALD_LOG".into(), "info".into()),
            (
                "HERALD_PUBLISHER_TOKEN_KEYS".into(),
                herald_testkit::TEST_TOKEN_KEYS.into(),
            ),
        ]
    }

    pub fn env(&self) -> herald_kit::Env {
        herald_testkit::service_env(
            &self.nats.url(),
            Some(self.db.url()),
            &[("HERALD_PUBLISHER_ALLOW_PRIVATE_NETWORKS", "true")],
        )
    }

    pub async fn connect_account(&self, token: &str) -> anyhow::Result<AccountView> {
        let request = ConnectAccountRequest {
            platform: Platform::Mastodon,
            instance_url: Some(self.sandbox.base_url().to_owned()),
            access_token: Some(token.into()),
            ..ConnectAccountRequest::default()
        };
        Ok(herald_kit::rpc::call::<ConnectAccount>(
            &self.client,
            "test-connect",
            Some(self.caller.clone()),
            request,
            RPC_TIMEOUT,
        )
        .await?)
    }

    /// Every message on `filter` in the POSTS stream, read with an ephemeral consumer.
    pub async fn stream_messages(
        &self,
        filter: &str,
    ) -> anyhow::Result<Vec<herald_kit::async_nats::jetstream::Message>> {
        read_stream(&self.client, "POSTS", filter).await
    }
}

pub use herald_testkit::read_stream;

/// Calls `R` as the world's caller.
pub async fn rpc<R: Rpc>(world: &World, request: R::Request) -> Result<R::Response, RpcError> {
    herald_kit::rpc::call::<R>(
        &world.client,
        "test",
        Some(world.caller.clone()),
        request,
        RPC_TIMEOUT,
    )
    .await
}

pub async fn get(world: &World, post_id: PostId) -> anyhow::Result<PostView> {
    Ok(rpc::<GetPost>(world, GetPostRequest { post_id }).await?)
}

/// The post once it has left draft, scheduled and publishing (bounded by `secs`).
pub async fn settled(world: &World, post_id: PostId, secs: u64) -> anyhow::Result<PostView> {
    wait_for("post settled", Duration::from_secs(secs), || async {
        get(world, post_id).await.ok().filter(|p| {
            !matches!(
                p.status,
                PostStatus::Draft | PostStatus::Scheduled | PostStatus::Publishing
            )
        })
    })
    .await
}

/// How many posts with this text the sandbox accepted.
pub fn ledger_count(world: &World, text: &str) -> usize {
    world
        .sandbox
        .ledger()
        .iter()
        .filter(|e| e.text == text)
        .count()
}

/// Makes the platform refuse an account's token from now on (an empty bearer token is
/// refused), as when a user revokes Herald's access on the platform.
pub async fn revoke_token_in_db(
    db_url: &str,
    account: herald_contracts::AccountId,
) -> anyhow::Result<()> {
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    let mut conn = AsyncPgConnection::establish(db_url).await?;
    diesel::sql_query("UPDATE publisher.accounts SET access_token = '' WHERE id = $1")
        .bind::<diesel::sql_types::Uuid, _>(account.as_uuid())
        .execute(&mut conn)
        .await?;
    Ok(())
}
