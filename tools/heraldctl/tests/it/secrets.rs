//! Configured and user secrets never reach a log line or an error body. The seven services run
//! as their real binaries (from the build directory: `cargo build --bins` must have run, as for
//! `chaos`) with `HERALD_LOG=trace`, stdout and stderr captured, every secret random for this
//! run. The test drives logins (right, wrong and malformed), account connections with social
//! tokens and an app password, a publish that refreshes an X token with the client secret,
//! failing requests (invalid input, 401, 404, 405, an unreachable platform), a token refresh,
//! refresh-token reuse, a password change and a logout. Then no secret, nor a recognizable
//! part of one (a 16-character window, key bytes in hex or another base64 alphabet), may
//! appear in any service's output or in any error body. The capture is checked to hold what it
//! must (a request id we sent, debug lines from every service), so an empty or filtered
//! capture cannot pass.

mod exercise;
mod watched;

use crate::fleet::{Api, FLEET_TEMPLATE, Reply};
use herald_testkit::{NatsServer, ServiceProcess, free_port, postgres, wait_for};
use std::path::PathBuf;
use std::time::Duration;
use watched::{Watched, random, random_key};

const WAIT: Duration = Duration::from_secs(60);
const SERVICES: [&str; 7] = [
    "auth",
    "publisher",
    "renderer",
    "insights",
    "billing",
    "notifier",
    "gateway",
];

/// `url` with `password` set, unless it already carries one (then that one is the secret).
/// The test clusters trust local connections, so an added password is never checked, only
/// carried through every service's configuration.
fn with_password(url: &str, password: &str) -> (String, String) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.to_owned(), password.to_owned());
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return (
            format!("{scheme}://postgres:{password}@{rest}"),
            password.to_owned(),
        );
    };
    match userinfo.split_once(':') {
        Some((_, existing)) if !existing.is_empty() => (url.to_owned(), existing.to_owned()),
        _ => {
            let user = userinfo.split(':').next().unwrap_or(userinfo);
            (
                format!("{scheme}://{user}:{password}@{host}"),
                password.to_owned(),
            )
        }
    }
}

/// The directory cargo builds the service binaries into (next to heraldctl's).
fn bin_dir() -> anyhow::Result<PathBuf> {
    let heraldctl = PathBuf::from(env!("CARGO_BIN_EXE_heraldctl"));
    let dir = heraldctl
        .parent()
        .ok_or_else(|| anyhow::anyhow!("no directory for {}", heraldctl.display()))?
        .to_path_buf();
    for name in SERVICES {
        let binary = dir.join(format!("herald-{name}"));
        anyhow::ensure!(
            binary.is_file(),
            "missing {}: build the fleet first with `cargo build --bins`",
            binary.display()
        );
    }
    Ok(dir)
}

#[tokio::test]
async fn no_secret_reaches_a_log_line_or_an_error_body() -> anyhow::Result<()> {
    let bins = bin_dir()?;
    let nats = NatsServer::start()?;
    let db = postgres().await?.fresh_db(&FLEET_TEMPLATE).await?;
    let sandbox = herald_sandbox::start(std::net::TcpListener::bind("127.0.0.1:0")?).await?;
    let dir = tempfile::tempdir()?;

    let master_key = random_key();
    let token_key = random_key();
    let token_keys_file = dir.path().join("token_keys");
    std::fs::write(&token_keys_file, format!("k1:{token_key}\n"))?;
    let x_client_secret = random(40);
    let (database_url, database_password) = with_password(db.url(), &random(24));
    let mut watched = vec![
        Watched::key("HERALD_AUTH_MASTER_KEY", &master_key)?,
        Watched::key("HERALD_PUBLISHER_TOKEN_KEYS", &token_key)?,
        Watched::text("HERALD_PUBLISHER_X_CLIENT_SECRET", &x_client_secret),
        Watched::text("database password", &database_password),
    ];

    let http_port = free_port()?;
    let gateway = format!("127.0.0.1:{http_port}");
    let mailbox = dir.path().join("mailbox.mbox").display().to_string();
    let objects = dir.path().join("objects").display().to_string();
    let sandbox_url = sandbox.base_url();
    let mut env: Vec<(String, String)> = [
        ("HERALD_NATS_URL", nats.url()),
        ("HERALD_DATABASE_URL", database_url),
        ("HERALD_LOG", "trace".to_owned()),
        ("HERALD_SHUTDOWN_TIMEOUT_SECS", "5".to_owned()),
        ("HERALD_OUTBOX_SWEEP_SECS", "1".to_owned()),
        ("HERALD_AUTH_MASTER_KEY", master_key.clone()),
        ("HERALD_AUTH_ARGON2_MEMORY_KIB", "1024".to_owned()),
        (
            "HERALD_PUBLISHER_TOKEN_KEYS_FILE",
            token_keys_file.display().to_string(),
        ),
        ("HERALD_PUBLISHER_ALLOW_PRIVATE_NETWORKS", "true".to_owned()),
        ("HERALD_PUBLISHER_X_URL", format!("{sandbox_url}/x")),
        ("HERALD_PUBLISHER_X_CLIENT_ID", "herald-test".to_owned()),
        ("HERALD_PUBLISHER_X_CLIENT_SECRET", x_client_secret.clone()),
        (
            "HERALD_PUBLISHER_BLUESKY_URL",
            format!("{sandbox_url}/bluesky"),
        ),
        ("HERALD_NOTIFIER_MAILBOX", mailbox),
        ("HERALD_NOTIFIER_MAIL_SWEEP_SECS", "1".to_owned()),
        ("HERALD_RENDERER_STORAGE_DIR", objects),
        ("HERALD_GATEWAY_HTTP_ADDR", gateway.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    env.sort();
    let mut services = Vec::new();
    for name in SERVICES {
        let binary = bins.join(format!("herald-{name}"));
        services.push((name, ServiceProcess::spawn(&binary, &env)?));
    }
    for (name, service) in &services {
        wait_for(&format!("{name} ready"), WAIT, || async {
            (service.ops_status("/readyz").await == Some(200)).then_some(())
        })
        .await
        .map_err(|e| anyhow::anyhow!("{e}; log:\n{}", service.log_tail()))?;
    }

    let api = Api::new(format!("http://{gateway}"))?;
    let mut bodies: Vec<(String, Reply)> = Vec::new();
    let outcome = exercise::exercise(&api, sandbox_url, &mut watched, &mut bodies).await;

    // Graceful stops, so shutdown paths are in the capture too.
    let mut logs = Vec::new();
    for (name, mut service) in services.into_iter().rev() {
        service.signal("TERM")?;
        let _ = service.wait(Duration::from_secs(30)).await;
        logs.push((name, std::fs::read_to_string(&service.log)?));
    }
    let self_check = outcome.map_err(|error| {
        let tails: Vec<String> = logs
            .iter()
            .map(|(name, log)| {
                let lines: Vec<&str> = log.lines().collect();
                let tail = lines[lines.len().saturating_sub(5)..].join("\n");
                format!("{name}:\n{tail}")
            })
            .collect();
        anyhow::anyhow!("{error:#}\n{}", tails.join("\n"))
    })?;

    for (name, log) in &logs {
        assert!(
            log.contains("\"level\":\"debug\"") || log.contains("\"level\":\"trace\""),
            "{name}'s capture has no debug or trace line: the log level did not take"
        );
    }
    for name in ["gateway", "auth"] {
        let log = &logs
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, l)| l.as_str());
        assert!(
            log.is_some_and(|log| log.contains(&self_check)),
            "{name}'s capture lacks the request id {self_check} we sent: the capture is broken"
        );
    }
    let mut leaks = Vec::new();
    for (name, log) in &logs {
        for secret in &watched {
            if let Some(found) = secret.found_in(log) {
                leaks.push(format!("{name} log: {found}"));
            }
        }
    }
    for (what, reply) in &bodies {
        for secret in &watched {
            if let Some(found) = secret.found_in(&reply.text) {
                leaks.push(format!("body of {what} ({}): {found}", reply.status));
            }
        }
    }
    assert!(leaks.is_empty(), "secrets leaked:\n{}", leaks.join("\n"));
    assert!(
        bodies
            .iter()
            .filter(|(_, r)| !r.status.is_success())
            .count()
            >= 10,
        "fewer failing requests than exercised"
    );
    drop(nats);
    sandbox.stop().await?;
    Ok(())
}
