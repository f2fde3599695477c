//! billing's integration tests: usage is metered exactly once whatever the delivery does.

mod inbox;
mod privacy_export;
mod process;
mod rls;

use chrono::Utc;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use herald_contracts::messages::{Platform, PostTargetPublished, PublishedTarget};
use herald_contracts::{AccountId, Envelope, PostId, TenantId};
use herald_kit::async_nats::{self, jetstream::publish::PublishAck};
use herald_testkit::{NatsServer, Template, TestDb, postgres};

pub static TEMPLATE: Template = Template {
    name: "billing",
    migrate: |url| {
        Box::pin(async move {
            herald_kit::db::migrate(&url, herald_billing::SCHEMA, herald_billing::MIGRATIONS)
                .await?;
            Ok(())
        })
    },
};

pub struct World {
    pub nats: NatsServer,
    pub db: TestDb,
    pub client: async_nats::Client,
    pub tenant: TenantId,
}

impl World {
    pub async fn new() -> anyhow::Result<Self> {
        let nats = NatsServer::start()?;
        let db = postgres().await?.fresh_db(&TEMPLATE).await?;
        let client = async_nats::connect(nats.url()).await?;
        Ok(Self {
            nats,
            db,
            client,
            tenant: TenantId::new(),
        })
    }

    pub fn pairs(&self) -> Vec<(String, String)> {
        vec![
            ("HERALD_NATS_URL".into(), self.nats.url()),
            ("HERALD_DATABASE_URL".into(), self.db.url().into()),
        ]
    }

    /// One target of a post reached its platform: one unit of usage.
    pub fn published(&self) -> Envelope<PostTargetPublished> {
        Envelope::new(
            self.tenant,
            "test",
            None,
            PostTargetPublished {
                post_id: PostId::new(),
                target: PublishedTarget {
                    account_id: AccountId::new(),
                    platform: Platform::Mastodon,
                    instance_url: "https://mastodon.example".into(),
                    remote_id: "1".into(),
                    remote_url: None,
                    published_at: Utc::now(),
                },
            },
        )
    }

    /// Publishes as the publisher's relay does; `msg_id` may differ from the envelope id to
    /// act as a re-publish the stream cannot recognise.
    pub async fn publish(
        &self,
        envelope: &Envelope<PostTargetPublished>,
        msg_id: &str,
    ) -> anyhow::Result<PublishAck> {
        herald_testkit::publish_envelope(&self.client, envelope, msg_id).await
    }

    pub async fn ledger_rows(&self) -> anyhow::Result<i64> {
        let mut conn = AsyncPgConnection::establish(self.db.url()).await?;
        Ok(
            diesel::sql_query("SELECT count(*) AS n FROM billing.usage_ledger")
                .get_result::<Count>(&mut conn)
                .await?
                .n,
        )
    }

    pub async fn usage_total(&self) -> anyhow::Result<i64> {
        let mut conn = AsyncPgConnection::establish(self.db.url()).await?;
        Ok(diesel::sql_query(
            "SELECT COALESCE(sum(quantity), 0)::bigint AS n FROM billing.usage_ledger",
        )
        .get_result::<Count>(&mut conn)
        .await?
        .n)
    }
}

#[derive(QueryableByName)]
pub struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub n: i64,
}
