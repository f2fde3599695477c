//! renderer's integration tests against a real nats-server and Postgres.

mod rls;

use base64::Engine;
use herald_contracts::TenantId;
use herald_contracts::design::Design;
use herald_contracts::rpc::renderer::{
    CreateRender, CreateRenderRequest, GetRender, GetRenderContent, GetRenderRequest, RenderStatus,
    RenderView,
};
use herald_contracts::rpc::{ErrorCode, Identity, Role};
use herald_kit::rpc::call;
use herald_testkit::{
    NatsServer, Running, Template, TestDb, check_readiness_follows_nats, identity, postgres,
    service_env, wait_for,
};
use std::time::Duration;

static TEMPLATE: Template = Template {
    name: "renderer",
    migrate: |url| {
        Box::pin(async move {
            herald_kit::db::migrate(&url, herald_renderer::SCHEMA, herald_renderer::MIGRATIONS)
                .await?;
            Ok(())
        })
    },
};

struct World {
    nats: NatsServer,
    db: TestDb,
    storage: tempfile::TempDir,
    client: herald_kit::async_nats::Client,
    caller: Identity,
}

impl World {
    async fn new() -> anyhow::Result<Self> {
        let nats = NatsServer::start()?;
        let db = postgres().await?.fresh_db(&TEMPLATE).await?;
        let client = herald_kit::async_nats::connect(nats.url()).await?;
        Ok(Self {
            nats,
            db,
            storage: tempfile::tempdir()?,
            client,
            caller: identity(TenantId::new(), Role::Editor),
        })
    }
    fn pairs(&self) -> Vec<(String, String)> {
        vec![
            ("HERALD_NATS_URL".into(), self.nats.url()),
            ("HERALD_DATABASE_URL".into(), self.db.url().into()),
            (
                "HERALD_RENDERER_STORAGE_DIR".into(),
                self.storage.path().display().to_string(),
            ),
        ]
    }
    async fn start(&self) -> anyhow::Result<Running> {
        let storage = self.storage.path().display().to_string();
        let env = service_env(
            &self.nats.url(),
            Some(self.db.url()),
            &[("HERALD_RENDERER_STORAGE_DIR", &storage)],
        );
        Ok(Running::spawn(herald_renderer::start(env).await?))
    }
    async fn request(&self, design: Design) -> Result<RenderView, herald_contracts::rpc::RpcError> {
        call::<CreateRender>(
            &self.client,
            "t",
            Some(self.caller.clone()),
            CreateRenderRequest { design },
            Duration::from_secs(15),
        )
        .await
    }
    async fn wait_done(&self, id: herald_contracts::RenderId) -> anyhow::Result<RenderView> {
        wait_for("render finished", Duration::from_secs(30), || async {
            call::<GetRender>(
                &self.client,
                "t",
                Some(self.caller.clone()),
                GetRenderRequest { render_id: id },
                Duration::from_secs(5),
            )
            .await
            .ok()
            .filter(|view| view.status != RenderStatus::Pending)
        })
        .await
    }
}

fn design(text: &str) -> Design {
    herald_testkit::text_card(text, 320, 200, "#1d4ed8")
}

#[tokio::test]
async fn a_design_becomes_a_png_of_the_requested_size_rendered_once() -> anyhow::Result<()> {
    let world = World::new().await?;
    let service = world.start().await?;
    let first = world.request(design("Hello, Herald")).await?;
    assert_eq!(first.status, RenderStatus::Pending);
    let done = world.wait_done(first.id).await?;
    assert_eq!(done.status, RenderStatus::Completed, "{:?}", done.error);

    let content = call::<GetRenderContent>(
        &world.client,
        "t",
        Some(world.caller.clone()),
        GetRenderRequest {
            render_id: first.id,
        },
        Duration::from_secs(5),
    )
    .await?;
    assert_eq!(content.content_type, "image/png");
    let png = base64::engine::general_purpose::STANDARD.decode(content.data_base64)?;
    let mut reader = png::Decoder::new(std::io::Cursor::new(png)).read_info()?;
    let mut pixels = vec![0; reader.output_buffer_size().unwrap_or(0)];
    let info = reader.next_frame(&mut pixels)?;
    assert_eq!((info.width, info.height), (320, 200));

    let again = world.request(design("Hello, Herald")).await?;
    let again = world.wait_done(again.id).await?;
    assert_eq!(
        again.content_hash, done.content_hash,
        "same design, same image"
    );
    let stored = std::fs::read_dir(world.storage.path().join("renders"))?.count();
    assert_eq!(stored, 1, "content-addressed: one object for one design");

    let stranger = identity(TenantId::new(), Role::Owner);
    let hidden = call::<GetRender>(
        &world.client,
        "t",
        Some(stranger),
        GetRenderRequest {
            render_id: first.id,
        },
        Duration::from_secs(5),
    )
    .await
    .unwrap_err();
    assert_eq!(hidden.code, ErrorCode::NotFound);
    service.stop().await
}

#[tokio::test]
async fn an_invalid_design_is_refused_with_the_field_named() -> anyhow::Result<()> {
    let world = World::new().await?;
    let service = world.start().await?;
    let mut bad = design("x");
    bad.width = 5000;
    let error = world.request(bad).await.unwrap_err();
    assert_eq!(error.code, ErrorCode::InvalidInput);
    assert!(error.message.contains("width"), "{}", error.message);
    service.stop().await
}

#[tokio::test]
async fn readiness_follows_nats_and_sigterm_exits_cleanly() -> anyhow::Result<()> {
    let mut world = World::new().await?;
    let pairs = world.pairs();
    check_readiness_follows_nats(
        std::path::Path::new(env!("CARGO_BIN_EXE_herald-renderer")),
        &pairs,
        &mut world.nats,
    )
    .await
}

#[tokio::test]
async fn sigterm_mid_work_loses_and_duplicates_nothing() -> anyhow::Result<()> {
    use diesel::prelude::*;
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    async fn count(url: &str, sql: &str) -> Option<i64> {
        let mut conn = AsyncPgConnection::establish(url).await.ok()?;
        diesel::sql_query(sql)
            .get_result::<Count>(&mut conn)
            .await
            .ok()
            .map(|c| c.n)
    }
    const RENDERS: i64 = 24;
    let world = World::new().await?;
    let completed = "SELECT count(*) AS n FROM renderer.renders WHERE status = 'completed'";
    herald_testkit::check_sigterm_mid_work(
        std::path::Path::new(env!("CARGO_BIN_EXE_herald-renderer")),
        &world.pairs(),
        || async {
            for n in 0..RENDERS {
                let mut big = design(&format!("Render number {n}"));
                (big.width, big.height) = (1600, 1200);
                world.request(big).await?;
            }
            Ok(())
        },
        || async { (count(world.db.url(), completed).await? > 0).then_some(()) },
        || async { (count(world.db.url(), completed).await? >= RENDERS).then_some(()) },
    )
    .await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        count(world.db.url(), "SELECT count(*) AS n FROM renderer.renders").await,
        Some(RENDERS)
    );
    assert_eq!(count(world.db.url(), completed).await, Some(RENDERS));
    assert_eq!(count(world.db.url(), "SELECT count(*) AS n FROM renderer.kit_outbox WHERE message_id LIKE 'render.completed:%'").await, Some(RENDERS), "one render.completed per job");
    assert_eq!(
        std::fs::read_dir(world.storage.path().join("renders"))?.count() as i64,
        RENDERS,
        "one object per design"
    );
    Ok(())
}
