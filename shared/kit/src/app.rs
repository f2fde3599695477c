//! A running service: connections, ops port, outbox relay, dead-letter mover, consumers and
//! endpoints, and the graceful shutdown that ties them together. Each service's `start`
//! builds one with `App::start`, registers its handlers, and returns it; `main` calls `run`.

use crate::config::{CommonConfig, Env};
use crate::consumer::{Handler, MessageValidator, Mode, Runner, TxHandler};
use crate::db::{Db, migrate_as};
use crate::error::KitError;
use crate::nats::{ConsumerSpec, ensure_consumer, ensure_streams};
use crate::ops::{OpsState, metrics_handle};
use crate::outbox::{OutboxWaker, Relay};
use crate::rpc::{self, RpcHandler};
use diesel_migrations::EmbeddedMigrations;
use herald_contracts::Message;
use herald_contracts::rpc::Rpc;
use herald_contracts::streams::{ADVISORIES, DLQ};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Returns a service's embedded migrations (a function, because `EmbeddedMigrations` is not `Clone`).
pub type MigrationsFn = fn() -> EmbeddedMigrations;

/// What a service is, statically.
#[derive(Clone)]
pub struct ServiceInfo {
    pub name: &'static str,
    pub version: &'static str,
    /// Streams it publishes to or consumes from (the kit adds ADVISORIES and DLQ).
    pub streams: &'static [&'static str],
    /// Its schema and migrations; `None` for a service that owns no tables.
    pub storage: Option<(&'static str, MigrationsFn)>,
}

pub struct App {
    pub info: ServiceInfo,
    pub config: CommonConfig,
    /// The environment, scoped to this service (`HERALD_<SVC>_*` first).
    pub env: Env,
    pub nats: async_nats::Client,
    pub js: async_nats::jetstream::Context,
    pub db: Option<Db>,
    pub outbox: OutboxWaker,
    ops: OpsState,
    ops_addr: SocketAddr,
    ops_server: actix_web::dev::ServerHandle,
    service: Option<async_nats::service::Service>,
    /// Cancelled to stop taking new work (consumers, endpoints).
    intake: CancellationToken,
    /// In-flight handlers and requests.
    work: TaskTracker,
    /// Cancelled after in-flight work is done (relay flushes, mover stops).
    background_stop: CancellationToken,
    background: TaskTracker,
    shutdown: CancellationToken,
}

impl App {
    pub async fn start(info: ServiceInfo, env: &Env) -> Result<App, KitError> {
        let env = env.scoped(info.name);
        let config = CommonConfig::from_env(&env, info.storage.is_some())?;
        crate::telemetry::init(info.name, info.version, &config.log_filter);
        metrics_handle();
        let nats = crate::nats::connect(&config.nats, info.name).await?;
        let js = async_nats::jetstream::new(nats.clone());
        let db = match (&info.storage, &config.database_url) {
            (Some((schema, migrations)), Some(url)) => {
                let role = config.db_role.as_str();
                let applied = retry("migrations", || {
                    migrate_as(url.expose(), schema, role, migrations())
                })
                .await?;
                tracing::info!(schema, applied, "migrations up to date");
                Some(
                    Db::connect_as(url.expose(), schema, role, info.name, config.db_pool_size)
                        .await?,
                )
            }
            _ => None,
        };
        let mut streams: Vec<&'static str> = info.streams.to_vec();
        streams.extend([ADVISORIES, DLQ]);
        retry("streams", || {
            ensure_streams(
                &js,
                &streams,
                config.stream_replicas,
                config.duplicate_window,
            )
        })
        .await?;
        let ops = OpsState {
            ready: Arc::default(),
            nats: nats.clone(),
            js: js.clone(),
            db: db.clone(),
            streams,
            consumers: Arc::new(Mutex::new(Vec::new())),
        };
        let (ops_addr, ops_server) = crate::ops::start(config.ops_addr, ops.clone())?;
        let app = App {
            info,
            config,
            env,
            nats,
            js,
            db,
            outbox: OutboxWaker::default(),
            ops,
            ops_addr,
            ops_server,
            service: None,
            intake: CancellationToken::new(),
            work: TaskTracker::new(),
            background_stop: CancellationToken::new(),
            background: TaskTracker::new(),
            shutdown: CancellationToken::new(),
        };
        app.start_background();
        Ok(app)
    }

    fn start_background(&self) {
        if let (Some(db), Some(url)) = (&self.db, &self.config.database_url) {
            let relay = Relay {
                db: db.clone(),
                js: self.js.clone(),
                waker: self.outbox.clone(),
                batch: 500,
                sweep: self.config.outbox_sweep,
                database_url: url.expose().to_owned(),
            };
            self.background
                .spawn(relay.run(self.background_stop.clone()));
        }
        self.background.spawn(crate::dlq::run_mover(
            self.js.clone(),
            self.background_stop.clone(),
        ));
    }

    pub fn ops_addr(&self) -> SocketAddr {
        self.ops_addr
    }

    /// The database; a service that declared storage always has one.
    pub fn db(&self) -> Result<Db, KitError> {
        self.db
            .clone()
            .ok_or_else(|| KitError::Other(format!("{} has no database", self.info.name)))
    }

    /// Cancel to stop the service gracefully (what SIGTERM does).
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// A token cancelled when the service stops taking work, for service background loops.
    pub fn intake_token(&self) -> CancellationToken {
        self.intake.clone()
    }

    /// Runs a service-specific background task; it must return once `intake_token` is cancelled.
    pub fn spawn<F: std::future::Future<Output = ()> + Send + 'static>(&self, task: F) {
        self.work.spawn(task);
    }

    async fn consumer_for(
        &self,
        spec: &mut ConsumerSpec,
    ) -> Result<
        async_nats::jetstream::consumer::Consumer<async_nats::jetstream::consumer::pull::Config>,
        KitError,
    > {
        spec.concurrency = spec.concurrency.min(self.config.consumer_concurrency);
        spec.ack_wait = self.config.ack_wait;
        let consumer = retry("consumer", || ensure_consumer(&self.js, spec)).await?;
        if let Ok(mut list) = self.ops.consumers.lock() {
            list.push((spec.stream, spec.durable.clone()));
        }
        Ok(consumer)
    }

    /// Consumes `M` with a transactional handler: effects, inbox row and outbox rows commit together.
    pub async fn consume_tx<M: Message>(
        &mut self,
        mut spec: ConsumerSpec,
        handler: impl TxHandler<M>,
    ) -> Result<(), KitError> {
        let db = self.db()?;
        let consumer = self.consumer_for(&mut spec).await?;
        let mode = Mode::transactional(
            Arc::new(handler),
            db,
            self.outbox.clone(),
            self.config.group,
        );
        self.launch(spec, consumer, mode)
    }

    /// Consumes `M` with a handler that guards its own effects (and must be idempotent).
    pub async fn consume<M: Message>(
        &mut self,
        mut spec: ConsumerSpec,
        handler: impl Handler<M>,
    ) -> Result<(), KitError> {
        let consumer = self.consumer_for(&mut spec).await?;
        self.launch(spec, consumer, Mode::Plain(Arc::new(handler)))
    }

    fn launch<M: Message>(
        &self,
        spec: ConsumerSpec,
        consumer: async_nats::jetstream::consumer::Consumer<
            async_nats::jetstream::consumer::pull::Config,
        >,
        mode: Mode<M>,
    ) -> Result<(), KitError> {
        let runner = Runner {
            spec,
            consumer,
            client: self.nats.clone(),
            validator: MessageValidator::for_message::<M>()?,
            mode,
        };
        self.work
            .spawn(runner.run(self.intake.clone(), self.work.clone()));
        Ok(())
    }

    /// Answers request/reply endpoint `R`.
    pub async fn serve<R: Rpc>(&mut self, handler: impl RpcHandler<R>) -> Result<(), KitError> {
        if R::SERVICE != self.info.name {
            return Err(KitError::Other(format!(
                "{} cannot serve {}'s endpoint {}",
                self.info.name,
                R::SERVICE,
                R::NAME
            )));
        }
        if self.service.is_none() {
            self.service =
                Some(rpc::start_service(&self.nats, self.info.name, self.info.version).await?);
        }
        let Some(service) = &self.service else {
            return Err(KitError::Other("service not started".into()));
        };
        rpc::serve::<R, _>(
            service,
            handler,
            self.config.rpc_timeout,
            self.intake.clone(),
            self.work.clone(),
        )
        .await?;
        // A server processes one connection's commands in order, so once a request sent over
        // this connection is answered, the endpoint's subscription is in place (a flush only
        // empties the socket buffer). Callers can reach the endpoint when this returns.
        let ping = format!("$SRV.PING.herald-{}", self.info.name);
        tokio::time::timeout(
            Duration::from_secs(10),
            self.nats.request(ping, bytes::Bytes::new()),
        )
        .await
        .map_err(|_| KitError::Nats("service ping timed out".into()))?
        .map_err(KitError::nats)?;
        Ok(())
    }

    /// Ready until SIGTERM/SIGINT (or the shutdown token); then: not ready → stop taking work →
    /// finish in-flight work within the deadline → flush the outbox → drain NATS → return.
    pub async fn run(self) -> Result<(), KitError> {
        self.ops.ready.store(true, Ordering::SeqCst);
        tracing::info!(ops.addr = %self.ops_addr, "ready");
        wait_for_stop(&self.shutdown).await;
        tracing::info!("shutting down");
        self.ops.ready.store(false, Ordering::SeqCst);
        self.intake.cancel();
        self.work.close();
        let deadline = self.config.shutdown_timeout;
        if tokio::time::timeout(deadline, self.work.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                deadline_ms = deadline.as_millis() as u64,
                "in-flight work not finished by the deadline; it will be redelivered"
            );
        }
        if let Some(service) = self.service {
            let _ = service.stop().await;
        }
        self.background_stop.cancel();
        self.background.close();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.background.wait()).await;
        let _ = tokio::time::timeout(Duration::from_secs(5), self.nats.drain()).await;
        self.ops_server.stop(true).await;
        tracing::info!("stopped");
        Ok(())
    }
}

async fn wait_for_stop(token: &CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(term) => term,
        Err(_) => return token.cancelled().await,
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
        _ = token.cancelled() => {}
    }
}

/// Retries a start-up step while its dependency comes up (about a minute), so replicas can
/// start in any order; then gives up with the last error.
async fn retry<T, F, Fut>(what: &str, mut step: F) -> Result<T, KitError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, KitError>>,
{
    let mut delay = Duration::from_millis(200);
    let mut attempts = 0;
    loop {
        match step().await {
            Ok(value) => return Ok(value),
            Err(error) if attempts < 30 => {
                tracing::warn!(step = what, error = %error, "start-up step failed; retrying");
                attempts += 1;
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(3));
            }
            Err(error) => return Err(error),
        }
    }
}

/// The `main` of every service: runs `start` (which builds the App and registers handlers),
/// then serves until a signal. Configuration errors exit 2 with a one-line message.
pub fn main<F, Fut>(name: &str, start: F) -> std::process::ExitCode
where
    F: FnOnce(Env) -> Fut,
    Fut: std::future::Future<Output = Result<App, KitError>>,
{
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("{name}: cannot start the runtime: {error}");
            return std::process::ExitCode::from(1);
        }
    };
    runtime.block_on(async {
        let app = match start(Env::from_process()).await {
            Ok(app) => app,
            Err(KitError::Config(error)) => {
                eprintln!("{name}: {error}");
                return std::process::ExitCode::from(2);
            }
            Err(error) => {
                tracing::error!(error = %error, "start-up failed");
                eprintln!("{name}: start-up failed: {error}");
                return std::process::ExitCode::from(1);
            }
        };
        match app.run().await {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("{name}: {error}");
                std::process::ExitCode::from(1)
            }
        }
    })
}
