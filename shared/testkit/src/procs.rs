//! A service binary run as a child process, for the tests that only a process can show:
//! SIGTERM handling, readiness while NATS is down, a crash at a failpoint.

use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

pub struct ServiceProcess {
    child: Child,
    pub ops_port: u16,
    pub log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl ServiceProcess {
    /// Starts `binary` with exactly `env` (plus PATH) and an ops port of its own.
    pub fn spawn(binary: &Path, env: &[(String, String)]) -> anyhow::Result<Self> {
        let ops_port = crate::free_port()?;
        let dir = tempfile::tempdir()?;
        let log = dir.path().join("service.log");
        let out = std::fs::File::create(&log)?;
        let mut command = Command::new(binary);
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("HERALD_OPS_ADDR", format!("127.0.0.1:{ops_port}"))
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out);
        let child = command.spawn()?;
        Ok(Self {
            child,
            ops_port,
            log,
            _dir: dir,
        })
    }

    pub fn ops_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.ops_port)
    }

    /// The HTTP status of `GET path` on the ops port, or `None` if it does not answer.
    pub async fn ops_status(&self, path: &str) -> Option<u16> {
        let url = self.ops_url(path);
        let response = tokio::time::timeout(
            Duration::from_secs(3),
            herald_kit::http::client(Duration::from_secs(3))
                .ok()?
                .get(url)
                .send(),
        )
        .await
        .ok()?
        .ok()?;
        Some(response.status().as_u16())
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn signal(&self, signal: &str) -> anyhow::Result<()> {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()?;
        anyhow::ensure!(status.success(), "kill -{signal} failed");
        Ok(())
    }

    /// Waits for the process to exit, at most `limit`.
    pub async fn wait(&mut self, limit: Duration) -> anyhow::Result<ExitStatus> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if tokio::time::Instant::now() >= deadline {
                anyhow::bail!(
                    "process did not exit within {limit:?}; log:\n{}",
                    self.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The ops contract every service keeps, checked on a real process: `/readyz` is 200 when up,
/// 503 while its nats-server is down, 200 again once it is back (same process, no restart),
/// and SIGTERM ends it with exit code 0.
pub async fn check_readiness_follows_nats(
    binary: &Path,
    env: &[(String, String)],
    nats: &mut crate::NatsServer,
) -> anyhow::Result<()> {
    let mut service = ServiceProcess::spawn(binary, env)?;
    let limit = Duration::from_secs(60);
    let status_is = |wanted: u16| {
        let service = &service;
        move || async move { (service.ops_status("/readyz").await == Some(wanted)).then_some(()) }
    };
    crate::wait_for("ready", limit, status_is(200))
        .await
        .map_err(|e| anyhow::anyhow!("{e}; log:\n{}", service.log_tail()))?;
    assert_eq!(service.ops_status("/livez").await, Some(200));
    nats.stop()?;
    crate::wait_for("not ready while NATS is down", limit, status_is(503)).await?;
    assert_eq!(
        service.ops_status("/livez").await,
        Some(200),
        "still live while NATS is down"
    );
    nats.restart()?;
    crate::wait_for("ready again after NATS returned", limit, status_is(200))
        .await
        .map_err(|e| anyhow::anyhow!("{e}; log:\n{}", service.log_tail()))?;
    service.signal("TERM")?;
    let status = service.wait(Duration::from_secs(30)).await?;
    anyhow::ensure!(
        status.success(),
        "exit after SIGTERM: {status}; log:\n{}",
        service.log_tail()
    );
    Ok(())
}

/// SIGTERM in the middle of work: `submit` hands the service work, `started` says some of it is
/// under way, `finished` says all of it is done exactly once. The first process gets SIGTERM
/// while working and must exit 0; a second process finishes; `finished` must then hold.
pub async fn check_sigterm_mid_work<S, SF, P, PF, F, FF>(
    binary: &Path,
    env: &[(String, String)],
    submit: S,
    started: P,
    finished: F,
) -> anyhow::Result<()>
where
    S: FnOnce() -> SF,
    SF: std::future::Future<Output = anyhow::Result<()>>,
    P: FnMut() -> PF,
    PF: std::future::Future<Output = Option<()>>,
    F: FnMut() -> FF,
    FF: std::future::Future<Output = Option<()>>,
{
    let mut first = ServiceProcess::spawn(binary, env)?;
    crate::wait_for("ready", Duration::from_secs(60), || async {
        (first.ops_status("/readyz").await == Some(200)).then_some(())
    })
    .await
    .map_err(|e| anyhow::anyhow!("{e}; log:\n{}", first.log_tail()))?;
    submit().await?;
    crate::wait_for("work under way", Duration::from_secs(60), started).await?;
    first.signal("TERM")?;
    let status = first.wait(Duration::from_secs(30)).await?;
    anyhow::ensure!(
        status.success(),
        "exit after SIGTERM mid-work: {status}; log:\n{}",
        first.log_tail()
    );
    let second = ServiceProcess::spawn(binary, env)?;
    crate::wait_for(
        "all work done exactly once",
        Duration::from_secs(90),
        finished,
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}; log:\n{}", second.log_tail()))?;
    Ok(())
}
