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
    /// The publisher's token keyring, `<key_id>:<base64 key>` (see `HERALD_PUBLISHER_TOKEN_KEYS`).
    pub publisher_token_keys: PathBuf,
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
            publisher_token_keys: secrets.join("publisher_token_keys"),
            demo_script: dir.join("demo.sh"),
            dir,
        };
        for dir in [&state.dir, &state.nats_dir, &state.objects_dir, &secrets] {
            fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        fs::set_permissions(&secrets, fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot restrict {}", secrets.display()))?;
        generate_key_once(&state.auth_master_key, "")?;
        generate_key_once(&state.publisher_token_keys, "local-1:")?;
        Ok(state)
    }
}

/// `prefix` and 32 random bytes in base64, written once with mode 0600 and reused afterwards:
/// auth seals its signing keys and the publisher the accounts' tokens with them, so a new one
/// would orphan what they sealed.
fn generate_key_once(path: &Path, prefix: &str) -> Result<()> {
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
    writeln!(file, "{prefix}{}", STANDARD.encode(key))
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// A fresh one-key token keyring for the publisher, `<key_id>:<base64 32 random bytes>`, for
/// fleets that live as long as one run (chaos).
pub fn new_token_keys(key_id: &str) -> String {
    let mut key = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    format!("{key_id}:{}", STANDARD.encode(key))
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

#[cfg(test)]
mod tests {
    use super::*;
    use herald_publisher::token_keys::TokenKeys;

    #[test]
    fn the_publisher_keyring_is_generated_once_private_and_parses() {
        let root = tempfile::tempdir().unwrap();
        let state = State::prepare(root.path()).unwrap();
        let keyring = fs::read_to_string(&state.publisher_token_keys).unwrap();
        let parsed = TokenKeys::parse(&keyring).unwrap();
        assert_eq!(parsed.current_id(), "local-1");
        let mode = fs::metadata(&state.publisher_token_keys)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        // Kept across runs: a new key would orphan the tokens sealed with the old one.
        State::prepare(root.path()).unwrap();
        assert_eq!(
            fs::read_to_string(&state.publisher_token_keys).unwrap(),
            keyring
        );
        assert!(TokenKeys::parse(&new_token_keys("chaos")).is_ok());
    }
}
