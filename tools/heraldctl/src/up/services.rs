//! The seven services `up` runs, where their binaries are and the environment each gets
//! (`heraldctl chaos` runs some of them with the same helpers).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use herald_contracts::messages::Platform;

use super::children::Spec;
use super::state::State;

/// In start order; service `i` gets ops port `first_ops_port + i`.
pub const NAMES: [&str; 7] = [
    "gateway",
    "auth",
    "publisher",
    "renderer",
    "insights",
    "billing",
    "notifier",
];
const COLOURS: [u8; 7] = [36, 32, 33, 35, 34, 91, 96];

/// How the services reach the infrastructure and each other.
pub struct Wiring<'a> {
    pub bin_dir: &'a Path,
    pub nats_url: &'a str,
    pub database_url: &'a str,
    pub first_ops_port: u16,
    pub http_port: u16,
    /// The sandbox every platform adapter of the publisher is pointed at.
    pub sandbox_url: &'a str,
    pub state: &'a State,
}

/// The directory holding heraldctl, where cargo also puts the service binaries.
pub fn bin_dir() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot find heraldctl's own path")?;
    exe.parent()
        .map(Path::to_path_buf)
        .context("heraldctl's path has no directory")
}

/// Fails with a one-line hint if one of the `names` services' binaries has not been built.
pub fn check_binaries(bin_dir: &Path, names: &[&str]) -> Result<()> {
    for name in names {
        let binary = binary(bin_dir, name);
        if !binary.is_file() {
            bail!(
                "missing {}: build the fleet first with `cargo build --bins`",
                binary.display()
            );
        }
    }
    Ok(())
}

pub fn binary(bin_dir: &Path, name: &str) -> PathBuf {
    bin_dir.join(format!("herald-{name}"))
}

pub fn ops_addr(first_ops_port: u16, index: usize) -> SocketAddr {
    let port = first_ops_port.saturating_add(u16::try_from(index).unwrap_or(u16::MAX));
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

pub fn specs(wiring: &Wiring<'_>) -> Vec<Spec> {
    NAMES
        .iter()
        .zip(COLOURS)
        .enumerate()
        .map(|(index, (&name, colour))| {
            let ops_addr = ops_addr(wiring.first_ops_port, index);
            Spec {
                name,
                binary: binary(wiring.bin_dir, name),
                ops_addr,
                env: env(wiring, name, ops_addr),
                colour,
                log_file: None,
            }
        })
        .collect()
}

fn env(wiring: &Wiring<'_>, name: &str, ops_addr: SocketAddr) -> Vec<(String, String)> {
    let path = |p: &Path| p.display().to_string();
    let mut env = vec![
        ("HERALD_NATS_URL", wiring.nats_url.to_owned()),
        ("HERALD_OPS_ADDR", ops_addr.to_string()),
        ("HERALD_LOG", "info".to_owned()),
    ];
    if name != "gateway" {
        env.push(("HERALD_DATABASE_URL", wiring.database_url.to_owned()));
    }
    let state = wiring.state;
    match name {
        "gateway" => env.push((
            "HERALD_GATEWAY_HTTP_ADDR",
            SocketAddr::from((Ipv4Addr::LOCALHOST, wiring.http_port)).to_string(),
        )),
        "auth" => env.push(("HERALD_AUTH_MASTER_KEY_FILE", path(&state.auth_master_key))),
        "publisher" => env.push((
            "HERALD_PUBLISHER_TOKEN_KEYS_FILE",
            path(&state.publisher_token_keys),
        )),
        "renderer" => env.push(("HERALD_RENDERER_STORAGE_DIR", path(&state.objects_dir))),
        "notifier" => env.push(("HERALD_NOTIFIER_MAILBOX", path(&state.mailbox))),
        _ => {}
    }
    let mut env: Vec<(String, String)> = env.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    if name == "publisher" {
        env.extend(publisher_sandbox_env(wiring.sandbox_url));
        // Platforms that fetch images (Instagram, Threads) get them from the gateway.
        env.push((
            "HERALD_PUBLISHER_MEDIA_BASE_URL".to_owned(),
            format!("http://127.0.0.1:{}/media", wiring.http_port),
        ));
    }
    env
}

/// The publisher's environment for publishing to the sandbox: every platform's API at its
/// sandbox path (`HERALD_PUBLISHER_<PLATFORM>_URL`; Mastodon's instance is given per account
/// when it is connected), and loopback allowed, which the publisher refuses by default (SSRF).
pub fn publisher_sandbox_env(sandbox_url: &str) -> Vec<(String, String)> {
    let mut env = vec![(
        "HERALD_PUBLISHER_ALLOW_PRIVATE_NETWORKS".to_owned(),
        "true".to_owned(),
    )];
    for platform in Platform::ALL {
        if platform == Platform::Mastodon {
            continue;
        }
        env.push((
            format!(
                "HERALD_PUBLISHER_{}_URL",
                platform.as_str().to_ascii_uppercase()
            ),
            format!("{sandbox_url}/{platform}"),
        ));
    }
    env
}

#[cfg(test)]
mod tests {
    use super::publisher_sandbox_env;

    #[test]
    fn every_platform_but_mastodon_points_at_its_sandbox_path() {
        let env = publisher_sandbox_env("http://127.0.0.1:8700");
        let value = |key: &str| env.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
        assert_eq!(
            value("HERALD_PUBLISHER_BLUESKY_URL"),
            Some("http://127.0.0.1:8700/bluesky")
        );
        assert_eq!(
            value("HERALD_PUBLISHER_X_URL"),
            Some("http://127.0.0.1:8700/x")
        );
        for platform in ["LINKEDIN", "FACEBOOK", "INSTAGRAM", "THREADS"] {
            assert!(value(&format!("HERALD_PUBLISHER_{platform}_URL")).is_some());
        }
        assert_eq!(value("HERALD_PUBLISHER_MASTODON_URL"), None);
        assert_eq!(
            value("HERALD_PUBLISHER_ALLOW_PRIVATE_NETWORKS"),
            Some("true")
        );
    }
}
