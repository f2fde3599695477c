//! The services as child processes: spawned with their environment, their output streamed
//! line by line under their tag or into a log file (the last lines kept for error messages),
//! watched for exit, and stopped with SIGTERM, then SIGKILL after a grace period (or killed
//! at once, as `heraldctl chaos` does).

use std::collections::VecDeque;
use std::fmt;
use std::fs::File;
use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use super::log::{Tag, say};
use super::sys;

/// Log lines kept per service for error messages.
const TAIL_LINES: usize = 20;
/// How long stopping waits for a dead child's last output lines to be copied.
const DRAIN_LIMIT: Duration = Duration::from_secs(2);

/// What to run: a service binary, its ops address and its environment (on top of ours).
#[derive(Debug, Clone)]
pub struct Spec {
    pub name: &'static str,
    pub binary: PathBuf,
    pub ops_addr: SocketAddr,
    pub env: Vec<(String, String)>,
    pub colour: u8,
    /// Append the output to this file instead of printing it under the service's tag.
    pub log_file: Option<PathBuf>,
}

/// How a child ended.
#[derive(Debug, Clone)]
pub enum Exit {
    Status(ExitStatus),
    /// Waiting for it failed; it is gone as far as we can tell.
    Lost(String),
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Status(status) => match (status.code(), status.signal()) {
                (Some(code), _) => write!(f, "exit code {code}"),
                (None, Some(signal)) => write!(f, "signal {signal}"),
                (None, None) => write!(f, "{status}"),
            },
            Exit::Lost(error) => write!(f, "unknown status ({error})"),
        }
    }
}

/// The last lines a service printed.
#[derive(Clone, Default)]
pub struct Tail(Arc<Mutex<VecDeque<String>>>);

impl Tail {
    fn push(&self, line: String) {
        let mut lines = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if lines.len() == TAIL_LINES {
            lines.pop_front();
        }
        lines.push_back(line);
    }

    pub fn text(&self) -> String {
        let lines = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if lines.is_empty() {
            return "  (no output)".into();
        }
        lines
            .iter()
            .map(|line| format!("  {line}"))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Where a child's output lines go.
#[derive(Clone)]
enum Sink {
    Terminal(Tag),
    File(Arc<Mutex<File>>),
}

impl Sink {
    fn write(&self, line: &str) {
        match self {
            Sink::Terminal(tag) => tag.print(line),
            Sink::File(file) => {
                let mut file = file.lock().unwrap_or_else(PoisonError::into_inner);
                let _ = writeln!(file, "{line}");
            }
        }
    }
}

pub struct Service {
    pub name: &'static str,
    pub ops_addr: SocketAddr,
    pub tail: Tail,
    pid: u32,
    exit: watch::Receiver<Option<Exit>>,
    kill: Option<oneshot::Sender<()>>,
    pumps: Vec<JoinHandle<()>>,
    reported: bool,
}

impl Service {
    /// Starts the binary. Must be called from a thread that lives as long as heraldctl (the
    /// main thread): the child's parent-death signal fires when the spawning thread exits.
    pub fn spawn(spec: Spec) -> Result<Service> {
        let mut cmd = tokio::process::Command::new(&spec.binary);
        cmd.envs(spec.env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group: a Ctrl-C in the terminal reaches heraldctl only, which
            // then stops the services before the servers they depend on.
            .process_group(0)
            .kill_on_drop(true);
        sys::set_parent_death_signal(&mut cmd, libc::SIGTERM);
        let mut child = cmd
            .spawn()
            .with_context(|| format!("cannot start {}", spec.binary.display()))?;
        let pid = child.id().context("the child exited at once")?;
        let sink = match &spec.log_file {
            None => Sink::Terminal(Tag::new(spec.name, spec.colour)),
            Some(path) => Sink::File(Arc::new(Mutex::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .with_context(|| format!("cannot open {}", path.display()))?,
            ))),
        };
        let tail = Tail::default();
        let mut pumps = Vec::new();
        if let Some(stdout) = child.stdout.take() {
            pumps.push(tokio::spawn(pump(stdout, sink.clone(), tail.clone())));
        }
        if let Some(stderr) = child.stderr.take() {
            pumps.push(tokio::spawn(pump(stderr, sink, tail.clone())));
        }
        let (exit_tx, exit_rx) = watch::channel(None);
        let (kill_tx, kill_rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let status = tokio::select! {
                status = child.wait() => status,
                // A kill request, or the handle dropped.
                _ = kill_rx => {
                    let _ = child.start_kill();
                    child.wait().await
                }
            };
            let exit = status.map_or_else(|e| Exit::Lost(e.to_string()), Exit::Status);
            let _ = exit_tx.send(Some(exit));
        });
        Ok(Service {
            name: spec.name,
            ops_addr: spec.ops_addr,
            tail,
            pid,
            exit: exit_rx,
            kill: Some(kill_tx),
            pumps,
            reported: false,
        })
    }

    /// How it ended, if it has.
    pub fn exit(&self) -> Option<Exit> {
        self.exit.borrow().clone()
    }

    /// Waits until it has ended.
    pub async fn exited(&mut self) -> Exit {
        match self.exit.wait_for(Option::is_some).await {
            Ok(exit) => exit.clone().unwrap_or(Exit::Lost("no status".into())),
            Err(_) => Exit::Lost("its watcher ended".into()),
        }
    }

    fn terminate(&self) {
        if self.exit().is_none()
            && let Err(e) = sys::send_signal(self.pid, libc::SIGTERM)
        {
            say(format!("cannot send SIGTERM to {}: {e}", self.name));
        }
    }

    /// SIGKILL, unless it has ended already (`kill -9`: no chance to clean up).
    pub fn kill(&mut self) {
        if let Some(kill) = self.kill.take() {
            let _ = kill.send(());
        }
    }

    /// Waits (bounded) until the output of an ended child has been copied to the last line.
    pub async fn drain_output(&mut self) {
        let pumps = std::mem::take(&mut self.pumps);
        let _ = tokio::time::timeout(DRAIN_LIMIT, futures::future::join_all(pumps)).await;
    }
}

/// Copies lines from a child's stdout or stderr to ours (tagged) or its log file, and into
/// its tail.
async fn pump(stream: impl AsyncRead + Unpin, sink: Sink, tail: Tail) {
    let mut reader = BufReader::new(stream);
    let mut buffer = Vec::new();
    loop {
        buffer.clear();
        match reader.read_until(b'\n', &mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let line = String::from_utf8_lossy(&buffer);
                let line = line.trim_end_matches(['\n', '\r']);
                sink.write(line);
                tail.push(line.to_owned());
            }
        }
    }
}

/// The running services.
#[derive(Default)]
pub struct Fleet {
    pub services: Vec<Service>,
}

impl Fleet {
    /// The next service to exit that has not been reported yet; pending forever if none does.
    pub async fn next_exit(&mut self) -> (&'static str, Exit, Tail) {
        let waits = self
            .services
            .iter_mut()
            .filter(|service| !service.reported)
            .map(|service| {
                Box::pin(async move {
                    let exit = service.exited().await;
                    service.reported = true;
                    (service.name, exit, service.tail.clone())
                })
            })
            .collect::<Vec<_>>();
        if waits.is_empty() {
            return std::future::pending().await;
        }
        futures::future::select_all(waits).await.0
    }

    /// SIGTERM to every service at once; those still running after `grace` (or as soon as
    /// `hurry` resolves: a second Ctrl-C) get SIGKILL.
    pub async fn stop(&mut self, grace: Duration, hurry: impl Future<Output = ()>) {
        for service in &self.services {
            service.terminate();
        }
        let all_exited = async {
            for service in &mut self.services {
                service.exited().await;
            }
        };
        let patient = tokio::select! {
            result = tokio::time::timeout(grace, all_exited) => result.is_ok(),
            () = hurry => {
                say("second signal: killing the services now");
                false
            }
        };
        for service in &mut self.services {
            let exit = match service.exit() {
                Some(exit) => exit,
                None => {
                    if patient {
                        say(format!(
                            "{} did not stop within {}s: killing it",
                            service.name,
                            grace.as_secs()
                        ));
                    }
                    service.kill();
                    service.exited().await
                }
            };
            service.drain_output().await;
            if !service.reported {
                say(format!("{} stopped ({exit})", service.name));
                service.reported = true;
            }
        }
    }
}
