//! Child processes that never outlive the test binary: spawning, signals, exit hooks, ports.
//!
//! Servers are `std::process` children, not `tokio::process`, so they belong to no test's
//! runtime. Every child is forked by one dedicated, never-ending thread and armed with
//! `PR_SET_PDEATHSIG`: Linux delivers that signal when the *forking thread* exits, and each
//! `#[tokio::test]` runs on its own short-lived thread. Exit hooks (libc `atexit`) stop the
//! servers held in statics and delete their temp dirs, which `Drop` never does for statics.

use std::collections::HashSet;
use std::fs;
use std::io::{self, Read, Seek, SeekFrom};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use tempfile::TempDir;

type SpawnRequest = (Command, mpsc::Sender<io::Result<Child>>);

/// Spawns `cmd` from the long-lived spawner thread, so the child's parent-death signal fires
/// only when the whole test binary dies.
pub(crate) fn spawn(mut cmd: Command, death_signal: libc::c_int) -> Result<Child> {
    static SPAWNER: OnceLock<mpsc::Sender<SpawnRequest>> = OnceLock::new();
    let program = cmd.get_program().to_string_lossy().into_owned();
    sys::set_parent_death_signal(&mut cmd, death_signal);
    // A process group of its own: a terminal's Ctrl-C reaches the parent only, which stops
    // the services before their nats-server and Postgres (the death signal still cleans up).
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let sender = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        // The sender lives in a static, so this loop (and thread) lasts until process exit.
        thread::Builder::new()
            .name("herald-testkit-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .map(|_| ())
            .unwrap_or_else(|e| tracing::error!(error = %e, "cannot start the spawner thread"));
        tx
    });
    let (reply_tx, reply_rx) = mpsc::channel();
    sender
        .send((cmd, reply_tx))
        .map_err(|_| anyhow!("the testkit spawner thread is gone"))?;
    reply_rx
        .recv()
        .map_err(|_| anyhow!("the testkit spawner thread is gone"))?
        .with_context(|| format!("cannot start {program}"))
}

/// Runs `hook` when the process exits normally (after the test harness returns); hooks run
/// last-registered first, so a database dropped at exit goes before the server it lives on.
pub(crate) fn at_exit(hook: Box<dyn FnOnce() + Send>) {
    static REGISTERED: OnceLock<()> = OnceLock::new();
    REGISTERED.get_or_init(|| sys::register_exit_handler(run_exit_hooks));
    exit_hooks().push(hook);
}

fn exit_hooks() -> std::sync::MutexGuard<'static, Vec<Box<dyn FnOnce() + Send>>> {
    static HOOKS: Mutex<Vec<Box<dyn FnOnce() + Send>>> = Mutex::new(Vec::new());
    HOOKS.lock().unwrap_or_else(PoisonError::into_inner)
}

extern "C" fn run_exit_hooks() {
    // Pop one at a time so a hook may itself take the lock; a panic must not cross into C.
    loop {
        let Some(hook) = exit_hooks().pop() else {
            break;
        };
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(hook));
    }
}

/// Sends `signal` and waits up to `grace` for the child to exit, then SIGKILLs it.
pub(crate) fn terminate(child: &mut Child, signal: libc::c_int, grace: Duration) -> Result<()> {
    if child.try_wait()?.is_some() {
        return Ok(());
    }
    sys::send_signal(child.id(), signal)?;
    if wait_timeout(child, grace)?.is_none() {
        child.kill()?;
        child.wait()?;
    }
    Ok(())
}

pub(crate) fn wait_timeout(child: &mut Child, timeout: Duration) -> Result<Option<ExitStatus>> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// A temp dir named `herald-<kind>-<pid>-XXXXXX`. The pid lets a later run delete the dirs
/// of test binaries that were SIGKILLed (a CI timeout) before their exit hooks could run.
pub(crate) fn temp_dir(kind: &str) -> Result<TempDir> {
    static SWEPT: OnceLock<()> = OnceLock::new();
    SWEPT.get_or_init(sweep_dead_temp_dirs);
    tempfile::Builder::new()
        .prefix(&format!("herald-{kind}-{}-", std::process::id()))
        .tempdir()
        .context("cannot create a temp dir")
}

fn sweep_dead_temp_dirs() {
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix("herald-")) else {
            continue;
        };
        let mut parts = rest.splitn(3, '-');
        let (Some("nats" | "pg"), Some(pid), Some(_random)) =
            (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let dead = pid
            .parse::<u32>()
            .is_ok_and(|pid| !Path::new(&format!("/proc/{pid}")).exists());
        if dead {
            // Best effort: another user's dirs, or a racing sweeper, are not our problem.
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// A port that was free a moment ago. Ports handed out earlier in this process are skipped,
/// because a server may not have bound its port yet when the next test asks for one.
pub fn free_port() -> Result<u16> {
    static GIVEN: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
    for _ in 0..100 {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .context("cannot bind 127.0.0.1:0 to find a free port")?
            .local_addr()?
            .port();
        let mut given = GIVEN.lock().unwrap_or_else(PoisonError::into_inner);
        if given.get_or_insert_with(HashSet::new).insert(port) {
            return Ok(port);
        }
    }
    Err(anyhow!("no free TCP port found on 127.0.0.1"))
}

pub(crate) fn accepts_connections(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
}

/// The last `lines` lines of a log file, for error messages about a server that would not start.
pub(crate) fn log_tail(path: &Path, lines: usize) -> String {
    let Ok(mut file) = fs::File::open(path) else {
        return format!("(no log at {})", path.display());
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = file.seek(SeekFrom::Start(len.saturating_sub(16 * 1024)));
    let mut text = String::new();
    let _ = file.read_to_string(&mut text);
    let tail: Vec<&str> = text.lines().rev().take(lines).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    format!("log tail ({}):\n{}", path.display(), tail.join("\n"))
}

/// uid and gid of a system user, through `id` so NSS users work too.
pub(crate) fn system_user(name: &str) -> Result<(u32, u32)> {
    let id = |flag: &str| -> Result<u32> {
        let out = Command::new("id")
            .args([flag, name])
            .output()
            .context("cannot run `id`")?;
        if !out.status.success() {
            return Err(anyhow!(
                "no system user `{name}` (create one with: useradd --system --user-group {name})"
            ));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        text.trim()
            .parse()
            .with_context(|| format!("unexpected `id {flag} {name}` output: {text}"))
    };
    Ok((id("-u")?, id("-g")?))
}

pub(crate) fn running_as_root() -> bool {
    sys::effective_uid() == 0
}

/// The only unsafe code in the test kit: thin wrappers over libc calls std has no safe form of.
#[allow(unsafe_code)]
mod sys {
    use std::os::unix::process::CommandExt;
    use std::process::Command;

    pub(super) fn set_parent_death_signal(cmd: &mut Command, signal: libc::c_int) {
        let parent = std::process::id();
        // SAFETY: between fork and exec only async-signal-safe calls are allowed; prctl and
        // getppid are. The prctl runs after std's setuid, which would otherwise clear it.
        unsafe {
            cmd.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, signal as libc::c_ulong) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // The parent may have died before prctl took effect.
                if libc::getppid() as u32 != parent {
                    // No allocation after fork: a raw errno, not Error::other.
                    return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
                }
                Ok(())
            });
        }
    }

    pub(super) fn register_exit_handler(handler: extern "C" fn()) {
        // SAFETY: `handler` is a plain function that never unwinds (it catches panics).
        if unsafe { libc::atexit(handler) } != 0 {
            tracing::warn!("atexit failed: test servers will be killed but temp dirs may remain");
        }
    }

    pub(super) fn send_signal(pid: u32, signal: libc::c_int) -> std::io::Result<()> {
        let pid = libc::pid_t::try_from(pid).map_err(std::io::Error::other)?;
        // SAFETY: kill has no memory-safety preconditions; the pid is our own unreaped child,
        // so it cannot have been reused by another process.
        if unsafe { libc::kill(pid, signal) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }

    pub(super) fn effective_uid() -> u32 {
        // SAFETY: geteuid cannot fail and touches no memory.
        unsafe { libc::geteuid() }
    }
}
