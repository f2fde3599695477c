//! A private PostgreSQL cluster: a throwaway one per test binary when `DATABASE_URL` is unset,
//! or a persistent one in a given data dir for the local dev fleet.
//!
//! `initdb` and `postgres` refuse to run as root, and CI and dev machines run as root, so both
//! are started as the `postgres` system user and the data dir is chowned to it first.

use std::ffi::OsString;
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use tempfile::TempDir;

use crate::process;

const SUPERUSER: &str = "postgres";
const READY_TIMEOUT: Duration = Duration::from_secs(30);
const STOP_GRACE: Duration = Duration::from_secs(30);

pub struct PgCluster {
    port: u16,
    data_dir: PathBuf,
    log_path: PathBuf,
    persistent: bool,
    bin: PathBuf,
    owner: Option<(u32, u32)>,
    child: Mutex<Option<Child>>,
    // Behind a mutex so the exit hook of the per-binary cluster can delete it through `&self`.
    temp: Mutex<Option<TempDir>>,
}

impl PgCluster {
    /// A cluster in a temp dir on a free port, deleted on drop. Durability is off: the data
    /// lives only as long as the test binary.
    pub async fn start_temporary() -> Result<PgCluster> {
        let temp = process::temp_dir("pg")?;
        // Temp dirs are 0700 root: hand it to the server user so it can reach its data dir.
        if let Some((uid, gid)) = server_user()? {
            std::os::unix::fs::chown(temp.path(), Some(uid), Some(gid)).with_context(|| {
                format!("cannot chown {} to {SUPERUSER}", temp.path().display())
            })?;
        }
        let data_dir = temp.path().join("data");
        let log_path = temp.path().join("postgres.log");
        let cluster = PgCluster::init_and_start(data_dir, log_path, 0, false).await?;
        *cluster.temp.lock().unwrap_or_else(PoisonError::into_inner) = Some(temp);
        Ok(cluster)
    }

    /// A cluster in `data_dir`, created by initdb on first use and reused afterwards; port 0
    /// picks a free one. The server log goes to `<data_dir>.log`.
    pub async fn start_at(data_dir: PathBuf, port: u16) -> Result<PgCluster> {
        let mut log_path = OsString::from(&data_dir);
        log_path.push(".log");
        PgCluster::init_and_start(data_dir, PathBuf::from(log_path), port, true).await
    }

    async fn init_and_start(
        data_dir: PathBuf,
        log_path: PathBuf,
        port: u16,
        persistent: bool,
    ) -> Result<PgCluster> {
        let dir = data_dir.clone();
        let (bin, owner) = tokio::task::spawn_blocking(move || -> Result<_> {
            let (bin, owner) = (bindir()?, server_user()?);
            initdb_if_needed(&bin, &dir, owner)?;
            Ok((bin, owner))
        })
        .await
        .context("initdb task failed")??;
        let mut cluster = PgCluster {
            port,
            data_dir,
            log_path,
            persistent,
            bin,
            owner,
            child: Mutex::new(None),
            temp: Mutex::new(None),
        };
        // A free port can be taken by someone else before the server binds it: retry.
        let mut started = Err(anyhow!("postgres was not started"));
        for _ in 0..if port == 0 { 3 } else { 1 } {
            if port == 0 {
                cluster.port = process::free_port()?;
            }
            started = cluster.restart().await;
            if started.is_ok() {
                break;
            }
        }
        started.map(|()| cluster)
    }

    /// Starts the server again on the same port and data dir (stopping it first if running)
    /// and returns once it accepts connections.
    pub async fn restart(&mut self) -> Result<()> {
        self.stop()?;
        let child = self.spawn_postgres()?;
        *self.child.get_mut().unwrap_or_else(PoisonError::into_inner) = Some(child);
        self.wait_ready().await
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// URL of `database` on this cluster, as the trusted superuser.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/{database}", self.port)
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Fast shutdown (SIGINT: disconnect clients, checkpoint), SIGKILL after 30 s.
    pub fn stop(&mut self) -> Result<()> {
        let child = self
            .child
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        match child {
            Some(mut child) => process::terminate(&mut child, libc::SIGINT, STOP_GRACE),
            None => Ok(()),
        }
    }

    async fn wait_ready(&self) -> Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let url = self.url("postgres");
        loop {
            let exited = self
                .child
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .as_mut()
                .map(Child::try_wait)
                .transpose()?
                .flatten();
            if let Some(status) = exited {
                bail!(
                    "postgres exited with {status}; {}",
                    process::log_tail(&self.log_path, 20)
                );
            }
            // Connecting, not just a TCP probe: the port opens before recovery finishes.
            let attempt =
                tokio::time::timeout(Duration::from_secs(2), AsyncPgConnection::establish(&url));
            if let Ok(Ok(_connection)) = attempt.await {
                return Ok(());
            }
            if Instant::now() >= deadline {
                self.kill_process(libc::SIGQUIT);
                bail!(
                    "postgres on port {} not ready after {READY_TIMEOUT:?}; {}",
                    self.port,
                    process::log_tail(&self.log_path, 20)
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn kill_process(&self, signal: libc::c_int) {
        let child = self
            .child
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(mut child) = child
            && let Err(e) = process::terminate(&mut child, signal, STOP_GRACE)
        {
            eprintln!(
                "herald-testkit: stopping postgres on port {}: {e:#}",
                self.port
            );
        }
    }

    /// Stops the server and deletes a temporary cluster, through `&self` for the exit hook.
    pub(crate) fn shutdown(&self) {
        // A throwaway cluster is about to be deleted: immediate shutdown (SIGQUIT) is enough.
        self.kill_process(if self.persistent {
            libc::SIGINT
        } else {
            libc::SIGQUIT
        });
        drop(
            self.temp
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
    }

    fn spawn_postgres(&self) -> Result<Child> {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .with_context(|| format!("cannot open {}", self.log_path.display()))?;
        let mut cmd = Command::new(self.bin.join("postgres"));
        cmd.arg("-D")
            .arg(&self.data_dir)
            .arg("-p")
            .arg(self.port.to_string());
        // TCP only: socket paths under a long data dir overflow sun_path, and
        // /var/run/postgresql belongs to the system server.
        let mut settings = vec![
            "listen_addresses=127.0.0.1",
            "unix_socket_directories=",
            "max_connections=300",
        ];
        if !self.persistent {
            settings.extend([
                "fsync=off",
                "synchronous_commit=off",
                "full_page_writes=off",
            ]);
        }
        for setting in settings {
            cmd.arg("-c").arg(setting);
        }
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        as_server_user(&mut cmd, self.owner);
        // On our death the postmaster must go too; its backends notice and exit by themselves.
        process::spawn(cmd, libc::SIGQUIT)
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl std::fmt::Debug for PgCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgCluster")
            .field("port", &self.port)
            .field("data_dir", &self.data_dir)
            .finish()
    }
}

/// The directory holding `initdb` and a `postgres` of the same version: `HERALD_PG_BINDIR`,
/// the one `initdb` on PATH points into, or the newest `/usr/lib/postgresql/<v>/bin`.
fn bindir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("HERALD_PG_BINDIR") {
        return Ok(PathBuf::from(dir));
    }
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|dir| dir.join("initdb").canonicalize().ok())
        .find(|initdb| initdb.is_file());
    if let Some(dir) = on_path.as_deref().and_then(Path::parent) {
        return Ok(dir.to_path_buf());
    }
    let mut versioned: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, bin)| bin.join("initdb").is_file())
        .collect();
    versioned.sort();
    versioned.pop().map(|(_, bin)| bin).ok_or_else(|| {
        anyhow!(
            "PostgreSQL server binaries not found (no initdb on PATH or in /usr/lib/postgresql/*/bin); \
             install them (apt-get install postgresql) or set DATABASE_URL"
        )
    })
}

/// The uid/gid to run the server as: ourselves, or the `postgres` user when we are root.
fn server_user() -> Result<Option<(u32, u32)>> {
    if !process::running_as_root() {
        return Ok(None);
    }
    Ok(Some(
        process::system_user(SUPERUSER).context("initdb and postgres refuse to run as root")?,
    ))
}

fn as_server_user(cmd: &mut Command, owner: Option<(u32, u32)>) {
    if let Some((uid, gid)) = owner {
        // std also drops root's supplementary groups when it changes uid.
        cmd.uid(uid).gid(gid);
    }
    // The server user may not be able to enter our working directory.
    cmd.current_dir("/").env("LC_ALL", "C");
}

fn initdb_if_needed(bin: &Path, data_dir: &Path, owner: Option<(u32, u32)>) -> Result<()> {
    if data_dir.join("PG_VERSION").is_file() {
        return Ok(());
    }
    fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(data_dir, Some(uid), Some(gid))
            .with_context(|| format!("cannot chown {} to {SUPERUSER}", data_dir.display()))?;
    }
    let mut cmd = Command::new(bin.join("initdb"));
    cmd.arg("-D").arg(data_dir);
    cmd.args([
        "-U",
        SUPERUSER,
        "--auth=trust",
        "--no-locale",
        "--encoding=UTF8",
        "--no-sync",
    ]);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    as_server_user(&mut cmd, owner);
    let out = process::spawn(cmd, libc::SIGKILL)?
        .wait_with_output()
        .context("waiting for initdb")?;
    if !out.status.success() {
        bail!(
            "initdb -D {} failed ({}): {}{}\n(the {SUPERUSER} user needs search permission on \
             every parent directory of the data dir)",
            data_dir.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
    }
    Ok(())
}
