//! renderer: designs → SVG → PNG on a bounded worker pool, stored content-addressed in object
//! storage, with render jobs and their results as events.

pub mod handlers;
pub mod render;
pub mod repo;

use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use herald_contracts::messages::renders::REQUESTED_FILTER;
use herald_contracts::rpc::renderer::{CreateRender, GetAsset, GetRender, GetRenderContent};
use herald_contracts::streams::RENDERS;
use herald_kit::db::Db;
use herald_kit::outbox::OutboxWaker;
use herald_kit::{App, ConsumerSpec, Env, KitError, ServiceInfo};
use object_store::ObjectStore;
use std::sync::Arc;
use tokio::sync::Semaphore;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");
pub const SCHEMA: &str = "renderer";

pub fn info() -> ServiceInfo {
    ServiceInfo {
        name: "renderer",
        version: env!("CARGO_PKG_VERSION"),
        streams: &[RENDERS, herald_contracts::streams::PRIVACY],
        storage: Some((SCHEMA, || MIGRATIONS)),
    }
}

pub struct State {
    pub db: Db,
    pub store: Arc<dyn ObjectStore>,
    /// Bounds the CPU-bound renders running at once.
    pub workers: Arc<Semaphore>,
    pub outbox: OutboxWaker,
}

pub async fn start(env: Env) -> Result<App, KitError> {
    let own = env.scoped("renderer");
    let storage_dir: String = own.optional("STORAGE_DIR", ".herald/objects".to_owned())?;
    let default_workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let workers: usize = own.optional("WORKERS", default_workers)?;
    if workers == 0 {
        return Err(herald_kit::ConfigError {
            var: "HERALD_RENDERER_WORKERS".into(),
            problem: "must be at least 1".into(),
        }
        .into());
    }
    std::fs::create_dir_all(&storage_dir)
        .map_err(|error| KitError::Other(format!("storage dir {storage_dir}: {error}")))?;
    let store = object_store::local::LocalFileSystem::new_with_prefix(&storage_dir)
        .map_err(|error| KitError::Other(format!("storage dir {storage_dir}: {error}")))?;
    let mut app = App::start(info(), &env).await?;
    let state = Arc::new(State {
        db: app.db()?,
        store: Arc::new(store),
        workers: Arc::new(Semaphore::new(workers)),
        outbox: app.outbox.clone(),
    });
    let mut spec = ConsumerSpec::new(RENDERS, "renderer-render", REQUESTED_FILTER);
    spec.concurrency = workers * 2;
    app.consume(
        spec,
        handlers::render_requested::RenderDesign(state.clone()),
    )
    .await?;
    app.consume(
        ConsumerSpec::new(
            herald_contracts::streams::PRIVACY,
            herald_contracts::messages::privacy::erasure_consumer(handlers::erasure::SERVICE),
            herald_contracts::messages::privacy::ERASURE_REQUESTED_FILTER,
        ),
        handlers::erasure::EraseRenderer(state.clone()),
    )
    .await?;
    let s = state.clone();
    app.serve::<CreateRender>(move |ctx, req| handlers::create_render::handle(s.clone(), ctx, req))
        .await?;
    let s = state.clone();
    app.serve::<GetRender>(move |ctx, req| handlers::get_render::handle(s.clone(), ctx, req))
        .await?;
    let s = state.clone();
    app.serve::<GetRenderContent>(move |ctx, req| {
        handlers::get_render::content(s.clone(), ctx, req)
    })
    .await?;
    let s = state;
    app.serve::<GetAsset>(move |ctx, req| handlers::get_render::asset(s.clone(), ctx, req))
        .await?;
    // GDPR export: this service's part, asked for by auth only.
    handlers::privacy_export::serve(&mut app).await?;
    Ok(app)
}
