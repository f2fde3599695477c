//! `<repo>/.herald/`: everything `up` keeps between runs (git-ignored): the nats store, the
//! Postgres data dir, object storage, the mailbox, generated secrets and the demo script.

use std::fs;
use std::io::Write;
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;

#[derive(Debug)]
pub struct State {
    pub dir: PathBuf,
    pub nats_dir: PathBuf,
    pub pg_dir: PathBuf,
    pub objects_dir: PathBuf,
    pub mailbox: PathBuf,
    pub auth_master_key: PathBuf,
    pub demo_script: PathBuf,
}

impl State {
    /// Creates the directories and the secrets that do not exist yet.
    pub fn prepare(root: &Path) -> Result<State> {
        let dir = root.join(".herald");
        let secrets = dir.join("secrets");
        let state = State {
            nats_dir: dir.join("nats"),
            pg_dir: dir.join("pg"),
            objects_dir: dir.join("objects"),
            mailbox: dir.join("mailbox.mbox"),
            auth_master_key: secrets.join("auth_master_key"),
            demo_script: dir.join("demo.sh"),
            dir,
        };
        for dir in [&state.dir, &state.nats_dir, &state.objects_dir, &secrets] {
            fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        fs::set_permissions(&secrets, fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot restrict {}", secrets.display()))?;
        generate_key_once(&state.auth_master_key)?;
        Ok(state)
    }
}

/// 32 random bytes in base64, written once with mode 0600 and reused afterwards: the auth
/// service seals its signing keys with it, so a new one would orphan them.
fn generate_key_once(path: &Path) -> Result<()> {
    if path.exists() {
        return Ok(());
    }
    let mut key = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    writeln!(file, "{}", STANDARD.encode(key))
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Fails with the flag to change if one of `ports` on 127.0.0.1 is taken.
pub fn check_ports_free(ports: &[(u16, &str)]) -> Result<()> {
    for &(port, flag) in ports {
        if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_err() {
            bail!(
                "127.0.0.1:{port} is already in use (another `heraldctl up`?); stop it or pick another port with {flag}"
            );
        }
    }
    Ok(())
}
