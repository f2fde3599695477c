//! The fleet a chaos run owns and breaks: a throwaway nats-server and Postgres cluster (both
//! restartable on the same port and data, so JetStream and the tables survive), the sandbox
//! in-process, two publisher replicas, billing and notifier as child processes whose output
//! goes to log files in the run directory. Everything is stopped and removed when the run
//! ends, however it ends; the logs are kept when the run failed.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use herald_sandbox::SandboxHandle;
use herald_testkit::{NatsServer, PgCluster};

use crate::up::children::{Exit, Fleet, Service, Spec};
use crate::up::log::say;
use crate::up::{infra, ready, services};

/// The binaries a chaos run needs.
pub const BINARIES: [&str; 5] = ["publisher", "billing", "notifier", "renderer", "gateway"];
/// Slots in the fleet: the publisher replicas first. The renderer renders the run's card and,
/// with the gateway's public media origin, serves it to the platforms that fetch it.
const SLOTS: [(&str, &str); 6] = [
    ("publisher-1", "publisher"),
    ("publisher-2", "publisher"),
    ("billing", "billing"),
    ("notifier", "notifier"),
    ("renderer", "renderer"),
    ("gateway", "gateway"),
];
pub const PUBLISHER_SLOTS: [usize; 2] = [0, 1];
const READY_LIMIT: Duration = Duration::from_secs(90);
const STOP_GRACE: Duration = Duration::from_secs(10);
const KILL_LIMIT: Duration = Duration::from_secs(10);
/// A file in a run directory that was kept on purpose.
const KEPT_MARKER: &str = "KEPT";

pub struct Stack {
    bin_dir: PathBuf,
    dir: RunDir,
    nats: Option<NatsServer>,
    pg: Option<PgCluster>,
    sandbox: Option<SandboxHandle>,
    fleet: Fleet,
    specs: Vec<Spec>,
    database_url: String,
}

impl Stack {
    pub fn new(bin_dir: PathBuf) -> Result<Stack> {
        Ok(Stack {
            bin_dir,
            dir: RunDir::create()?,
            nats: None,
            pg: None,
            sandbox: None,
            fleet: Fleet::default(),
            specs: Vec::new(),
            database_url: String::new(),
        })
    }

    /// nats-server, Postgres with every service's migrations, the sandbox.
    pub async fn start_infra(&mut self) -> Result<()> {
        let nats = tokio::task::spawn_blocking(NatsServer::start)
            .await
            .context("the nats-server start task failed")?
            .context("starting nats-server")?;
        say(format!("nats-server ready on {}", nats.url()));
        self.nats = Some(nats);
        let pg = PgCluster::start_temporary()
            .await
            .context("starting PostgreSQL")?;
        infra::create_database_if_missing(&pg.url("postgres"), infra::DATABASE).await?;
        self.database_url = pg.url(infra::DATABASE);
        self.pg = Some(pg);
        crate::migrate::all(&self.database_url).await?;
        say(format!("PostgreSQL ready: {}", self.database_url));
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .context("cannot listen on 127.0.0.1 for the sandbox")?;
        let sandbox = herald_sandbox::start(listener)
            .await
            .context("starting the sandbox")?;
        say(format!("sandbox ready on {}", sandbox.base_url()));
        self.sandbox = Some(sandbox);
        Ok(())
    }

    /// The four services, each on a free ops port, until every one is ready.
    pub async fn start_services(&mut self) -> Result<()> {
        let nats_url = self.nats()?.url();
        let sandbox_url = self.sandbox()?.base_url().to_owned();
        let gateway_addr = SocketAddr::from((Ipv4Addr::LOCALHOST, herald_testkit::free_port()?));
        // Both publisher replicas (and their respawns) share the run's keyring.
        let token_keys = crate::up::state::new_token_keys("chaos");
        for (name, binary) in SLOTS {
            let ops_addr = SocketAddr::from((Ipv4Addr::LOCALHOST, herald_testkit::free_port()?));
            let mut env = vec![
                ("HERALD_NATS_URL".to_owned(), nats_url.clone()),
                ("HERALD_OPS_ADDR".to_owned(), ops_addr.to_string()),
                ("HERALD_LOG".to_owned(), "info".to_owned()),
                ("HERALD_OUTBOX_SWEEP_SECS".to_owned(), "1".to_owned()),
                ("HERALD_SHUTDOWN_TIMEOUT_SECS".to_owned(), "5".to_owned()),
            ];
            if binary != "gateway" {
                env.push(("HERALD_DATABASE_URL".to_owned(), self.database_url.clone()));
            }
            match binary {
                "publisher" => {
                    env.extend(services::publisher_sandbox_env(&sandbox_url));
                    env.extend(short_publisher_timers());
                    env.push(("HERALD_PUBLISHER_TOKEN_KEYS".to_owned(), token_keys.clone()));
                    env.push((
                        "HERALD_PUBLISHER_MEDIA_BASE_URL".to_owned(),
                        format!("http://{gateway_addr}/media"),
                    ));
                }
                "gateway" => env.extend([
                    (
                        "HERALD_GATEWAY_HTTP_ADDR".to_owned(),
                        gateway_addr.to_string(),
                    ),
                    // Every platform fetches the media origin from 127.0.0.1: the per-IP
                    // limit would throttle the run, not an abuser.
                    ("HERALD_GATEWAY_RATE_IP".to_owned(), "0".to_owned()),
                ]),
                "renderer" => env.push((
                    "HERALD_RENDERER_STORAGE_DIR".to_owned(),
                    self.dir.path.join("objects").display().to_string(),
                )),
                "notifier" => env.push((
                    "HERALD_NOTIFIER_MAILBOX".to_owned(),
                    self.dir.path.join("mailbox.mbox").display().to_string(),
                )),
                _ => {}
            }
            let spec = Spec {
                name,
                binary: services::binary(&self.bin_dir, binary),
                ops_addr,
                env,
                colour: 0,
                log_file: Some(self.log_path(name)),
            };
            // Spawned from the main task: see `Service::spawn` on the parent-death signal.
            self.fleet.services.push(Service::spawn(spec.clone())?);
            self.specs.push(spec);
        }
        ready::wait_all(&self.fleet, READY_LIMIT).await?;
        say(format!(
            "services ready; their logs are in {}",
            self.dir.path.join("logs").display()
        ));
        Ok(())
    }

    pub fn nats(&self) -> Result<&NatsServer> {
        self.nats.as_ref().context("nats-server is not running")
    }

    pub fn sandbox(&self) -> Result<&SandboxHandle> {
        self.sandbox.as_ref().context("the sandbox is not running")
    }

    pub fn database_url(&self) -> &str {
        &self.database_url
    }

    pub fn slots(&self) -> usize {
        self.fleet.services.len()
    }

    pub fn name(&self, slot: usize) -> &'static str {
        self.fleet.services.get(slot).map_or("?", |s| s.name)
    }

    /// How the service in `slot` ended, if it has.
    pub fn exit(&self, slot: usize) -> Option<Exit> {
        self.fleet.services.get(slot).and_then(Service::exit)
    }

    /// Its last log lines, indented.
    pub fn tail(&self, slot: usize) -> String {
        self.fleet
            .services
            .get(slot)
            .map_or_else(String::new, |s| s.tail.text())
    }

    /// `kill -9` and wait (bounded) until it is gone.
    pub async fn kill(&mut self, slot: usize) -> Result<()> {
        let service = self.fleet.services.get_mut(slot).context("no such slot")?;
        service.kill();
        tokio::time::timeout(KILL_LIMIT, service.exited())
            .await
            .with_context(|| format!("{} did not die within {KILL_LIMIT:?}", service.name))?;
        Ok(())
    }

    /// Starts the service in `slot` again, as it was first started.
    pub async fn respawn(&mut self, slot: usize) -> Result<()> {
        let spec = self.specs.get(slot).context("no such slot")?.clone();
        let old = self.fleet.services.get_mut(slot).context("no such slot")?;
        if old.exit().is_none() {
            bail!("{} is still running", old.name);
        }
        old.drain_output().await;
        *old = Service::spawn(spec)?;
        Ok(())
    }

    /// Stops nats-server (SIGTERM) and starts it again on the same port and store.
    pub async fn restart_nats(&mut self) -> Result<()> {
        let mut nats = self.nats.take().context("nats-server is not running")?;
        let (nats, restarted) = tokio::task::spawn_blocking(move || {
            let restarted = nats.restart();
            (nats, restarted)
        })
        .await
        .context("the nats-server restart task failed")?;
        self.nats = Some(nats);
        restarted.context("restarting nats-server")
    }

    /// Fast shutdown of Postgres (clients disconnected), then started again on the same data.
    pub async fn restart_postgres(&mut self) -> Result<()> {
        let pg = self.pg.as_mut().context("Postgres is not running")?;
        pg.restart().await.context("restarting PostgreSQL")
    }

    /// Keeps the run directory (service logs) after the run.
    pub fn keep_logs(&mut self) -> &Path {
        self.dir.keep = true;
        let _ = std::fs::write(self.dir.path.join(KEPT_MARKER), "kept by heraldctl chaos\n");
        &self.dir.path
    }

    /// The services first (SIGTERM, SIGKILL after a grace, or at once when `hurry` resolves),
    /// then the sandbox, nats-server and Postgres.
    pub async fn stop(&mut self, hurry: impl Future<Output = ()>) {
        if !self.fleet.services.is_empty() {
            say("stopping the services");
            self.fleet.stop(STOP_GRACE, hurry).await;
        }
        if let Some(sandbox) = self.sandbox.take()
            && let Err(error) = sandbox.stop().await
        {
            say(format!("stopping the sandbox: {error}"));
        }
        if let Some(mut nats) = self.nats.take() {
            let stopped = tokio::task::spawn_blocking(move || nats.stop()).await;
            if let Ok(Err(error)) = stopped {
                say(format!("stopping nats-server: {error:#}"));
            }
        }
        if let Some(mut pg) = self.pg.take() {
            let stopped = tokio::task::spawn_blocking(move || pg.stop()).await;
            if let Ok(Err(error)) = stopped {
                say(format!("stopping PostgreSQL: {error:#}"));
            }
        }
    }

    fn log_path(&self, name: &str) -> PathBuf {
        self.dir.path.join("logs").join(format!("{name}.log"))
    }
}

/// Retries, timeouts and sweeps of seconds rather than minutes, so a chaos run converges in
/// minutes; the claim lease is four times the HTTP timeout.
fn short_publisher_timers() -> Vec<(String, String)> {
    [
        ("HERALD_PUBLISHER_RETRY_BASE_SECS", "0.2"),
        ("HERALD_PUBLISHER_RETRY_CAP_SECS", "2"),
        ("HERALD_PUBLISHER_HTTP_TIMEOUT_SECS", "2"),
        ("HERALD_PUBLISHER_SWEEP_SECS", "5"),
        ("HERALD_PUBLISHER_SWEEP_GRACE_SECS", "10"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// `<tmp>/herald-chaos-<pid>-<random>/`, holding the service logs and the mailbox; removed
/// on drop unless kept.
struct RunDir {
    path: PathBuf,
    keep: bool,
}

impl RunDir {
    fn create() -> Result<RunDir> {
        sweep_dead_run_dirs();
        let path = std::env::temp_dir().join(format!(
            "herald-chaos-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(path.join("logs"))
            .with_context(|| format!("cannot create {}", path.display()))?;
        Ok(RunDir { path, keep: false })
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Removes the run directories of chaos runs that were killed before they could clean up
/// (a CI timeout), recognised by the pid in their name; kept ones are left alone.
fn sweep_dead_run_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("herald-chaos-"))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        let kept = entry.path().join(KEPT_MARKER).exists();
        if !kept && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}
