//! The keyring that seals social-account tokens at rest, with the AEAD auth seals its signing
//! keys with (XChaCha20-Poly1305, random 24-byte nonces).
//!
//! Stored form, in the existing text columns: `v1:<key_id>:<base64url(nonce || ciphertext)>`,
//! with the column and the account id as associated data, so a sealed token copied onto
//! another row or column does not open. A value without the `v1:` prefix is a token stored
//! before tokens were sealed: it is read as it is and sealed the next time the row is written
//! (or read for publishing). The empty string (a disconnected account) is stored as it is.
//!
//! `HERALD_PUBLISHER_TOKEN_KEYS` (or `_FILE`): `<key_id>:<base64 of 32 bytes>` entries separated
//! by commas or new lines. The first seals; every one opens. To rotate, put a new key first and
//! keep the old one after it until no row uses it any more (the publisher logs how many do at
//! start-up).

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use herald_kit::{ConfigError, Env, KitError, Secret};
use rand::RngCore;
use rand::rngs::OsRng;
use std::fmt;

/// The variable, named in every configuration error (never its value).
pub const VAR: &str = "HERALD_PUBLISHER_TOKEN_KEYS";
/// What `Env` looks up, scoped to the publisher.
const KEY: &str = "TOKEN_KEYS";
const PREFIX: &str = "v1:";
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const MAX_KEY_ID: usize = 32;

/// Which column a token lives in; part of the associated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenColumn {
    Access,
    Refresh,
}

impl TokenColumn {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenColumn::Access => "access_token",
            TokenColumn::Refresh => "refresh_token",
        }
    }
}

/// Why a stored token does not open. The messages name the key id, never a token or key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the account's token is sealed with token key `{0}`, which is missing from {VAR}")]
    UnknownKey(String),
    #[error(
        "the account's token does not open with token key `{0}` (sealed for another account or column, or the key changed)"
    )]
    Open(String),
    #[error("the account's stored token is not in a known sealed format")]
    Format,
    #[error("sealing the account's token failed")]
    Seal,
}

/// A token read from a row.
pub struct Opened {
    pub token: Secret,
    /// Stored in the clear or with a key that is no longer the current one: seal it again.
    pub stale: bool,
}

struct TokenKey {
    id: String,
    cipher: XChaCha20Poly1305,
}

/// The configured keys, current first. `Debug` shows the key ids only.
pub struct TokenKeys {
    keys: Vec<TokenKey>,
}

impl fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenKeys")
            .field("ids", &self.keys.iter().map(|k| &k.id).collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

fn valid_key_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_KEY_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn associated_data(account: uuid::Uuid, column: TokenColumn) -> Vec<u8> {
    format!("herald.publisher.accounts.{}.{account}", column.as_str()).into_bytes()
}

impl TokenKeys {
    /// `env` scoped to the publisher. Required: there is no default key.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let raw = env.secret(KEY)?;
        Self::parse(raw.expose()).map_err(|problem| ConfigError {
            var: VAR.into(),
            problem,
        })
    }

    /// The problem names the entry by position and never repeats a key.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut keys: Vec<TokenKey> = Vec::new();
        let entries = raw
            .split([',', '\n'])
            .map(str::trim)
            .filter(|e| !e.is_empty());
        for (index, entry) in entries.enumerate() {
            let n = index + 1;
            let (id, encoded) = entry
                .split_once(':')
                .ok_or_else(|| format!("entry {n}: expected `<key_id>:<base64 32-byte key>`"))?;
            let id = id.trim();
            if !valid_key_id(id) {
                return Err(format!(
                    "entry {n}: the key id must be 1 to {MAX_KEY_ID} of A-Z a-z 0-9 - _ ."
                ));
            }
            if keys.iter().any(|k| k.id == id) {
                return Err(format!("entry {n}: key id `{id}` appears twice"));
            }
            let bytes = [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
                .iter()
                .find_map(|engine| engine.decode(encoded.trim()).ok())
                .ok_or_else(|| format!("entry {n} (key `{id}`): the key is not valid base64"))?;
            let key: [u8; 32] = bytes.try_into().map_err(|_| {
                format!(
                    "entry {n} (key `{id}`): the key must be 32 bytes in base64 (e.g. `openssl rand -base64 32`)"
                )
            })?;
            keys.push(TokenKey {
                id: id.to_owned(),
                cipher: XChaCha20Poly1305::new(&Key::from(key)),
            });
        }
        if keys.is_empty() {
            return Err("needs at least one `<key_id>:<base64 32-byte key>` entry".into());
        }
        Ok(Self { keys })
    }

    /// The key id new tokens are sealed with.
    pub fn current_id(&self) -> &str {
        &self.keys[0].id
    }

    pub fn knows(&self, key_id: &str) -> bool {
        self.keys.iter().any(|k| k.id == key_id)
    }

    /// The stored form of `token` for `column` of `account`, sealed with the current key.
    pub fn seal(
        &self,
        account: uuid::Uuid,
        column: TokenColumn,
        token: &str,
    ) -> Result<String, TokenError> {
        if token.is_empty() {
            return Ok(String::new());
        }
        let key = &self.keys[0];
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        let ciphertext = key
            .cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: token.as_bytes(),
                    aad: &associated_data(account, column),
                },
            )
            .map_err(|_| TokenError::Seal)?;
        let mut sealed = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        Ok(format!(
            "{PREFIX}{}:{}",
            key.id,
            URL_SAFE_NO_PAD.encode(sealed)
        ))
    }

    /// The token in a stored value (sealed, legacy clear text, or empty).
    pub fn open(
        &self,
        account: uuid::Uuid,
        column: TokenColumn,
        stored: &str,
    ) -> Result<Opened, TokenError> {
        let Some(rest) = stored.strip_prefix(PREFIX) else {
            return Ok(Opened {
                token: Secret::new(stored),
                stale: !stored.is_empty(),
            });
        };
        let (key_id, encoded) = rest.split_once(':').ok_or(TokenError::Format)?;
        if !valid_key_id(key_id) {
            return Err(TokenError::Format);
        }
        let (index, key) = self
            .keys
            .iter()
            .enumerate()
            .find(|(_, k)| k.id == key_id)
            .ok_or_else(|| TokenError::UnknownKey(key_id.to_owned()))?;
        let sealed = URL_SAFE_NO_PAD
            .decode(encoded)
            .map_err(|_| TokenError::Format)?;
        if sealed.len() < NONCE_LEN + TAG_LEN {
            return Err(TokenError::Format);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce = XNonce::try_from(nonce).map_err(|_| TokenError::Format)?;
        let plain = key
            .cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: ciphertext,
                    aad: &associated_data(account, column),
                },
            )
            .map_err(|_| TokenError::Open(key_id.to_owned()))?;
        let token = String::from_utf8(plain).map_err(|_| TokenError::Format)?;
        Ok(Opened {
            token: Secret::new(token),
            stale: index != 0,
        })
    }

    /// `stored` as it should be stored now: sealed again with the current key when it is
    /// clear text or sealed with an older key, unchanged otherwise.
    pub fn reseal(
        &self,
        account: uuid::Uuid,
        column: TokenColumn,
        stored: &str,
    ) -> Result<String, TokenError> {
        let opened = self.open(account, column, stored)?;
        if opened.stale {
            self.seal(account, column, opened.token.expose())
        } else {
            Ok(stored.to_owned())
        }
    }
}

/// The key id a stored value is sealed with; `None` for clear text or an empty value.
pub fn key_id_of(stored: &str) -> Option<&str> {
    stored
        .strip_prefix(PREFIX)
        .and_then(|rest| rest.split_once(':'))
        .map(|(id, _)| id)
}

/// Logs, at start-up, how many accounts each key seals: rows under an older key or in the
/// clear are sealed again as they are used, and rows under a key that is not configured will
/// fail their targets until it is. A failure to look is logged, not fatal.
pub async fn report_usage(db: &herald_kit::db::Db, keys: &TokenKeys) {
    // Cross-tenant by nature: the report counts every tenant's accounts per key id (no
    // tokens are read), so an operator knows when an old key may go.
    let usage = match db
        .system("token key usage report: counts every tenant's accounts per key")
        .await
    {
        Ok(mut conn) => crate::repo::accounts::token_key_usage(&mut conn)
            .await
            .map_err(KitError::from),
        Err(error) => Err(error),
    };
    let usage = match usage {
        Ok(usage) => usage,
        Err(error) => {
            tracing::warn!(error = %error, "could not count the accounts per token key");
            return;
        }
    };
    for row in usage {
        let (key_id, accounts) = (row.key_id.as_str(), row.accounts);
        if key_id.is_empty() {
            tracing::info!(
                accounts,
                "accounts with tokens stored in the clear (before sealing); sealed as they are used"
            );
        } else if !keys.knows(key_id) {
            tracing::warn!(
                accounts,
                key.id = key_id,
                "accounts with tokens sealed by a token key missing from {VAR}; their targets fail until it is added"
            );
        } else if key_id != keys.current_id() {
            tracing::info!(
                accounts,
                key.id = key_id,
                "accounts with tokens sealed by an older token key; sealed again as they are used"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(byte: u8) -> String {
        STANDARD.encode([byte; 32])
    }

    fn keys(spec: &[(&str, u8)]) -> TokenKeys {
        let raw: Vec<String> = spec
            .iter()
            .map(|(id, byte)| format!("{id}:{}", b64(*byte)))
            .collect();
        TokenKeys::parse(&raw.join(",")).unwrap()
    }

    #[test]
    fn parses_entries_current_first_in_any_base64_alphabet() {
        let bytes: Vec<u8> = (0..32).collect();
        let raw = format!(
            " k2:{} ,\nk1:{}\n,old.0:{},",
            URL_SAFE_NO_PAD.encode(&bytes),
            STANDARD.encode(&bytes),
            STANDARD_NO_PAD.encode(&bytes)
        );
        let parsed = TokenKeys::parse(&raw).unwrap();
        assert_eq!(parsed.current_id(), "k2");
        assert!(parsed.knows("k1") && parsed.knows("old.0"));
        assert!(!parsed.knows("k3"));
    }

    #[test]
    fn refuses_bad_entries_without_repeating_the_key() {
        let key = b64(7);
        let short = STANDARD.encode([7u8; 16]);
        let cases = [
            (String::new(), "at least one"),
            (" , ".to_owned(), "at least one"),
            (key.clone(), "entry 1: expected"),
            (format!(":{key}"), "entry 1: the key id"),
            (format!("k 1:{key}"), "entry 1: the key id"),
            (
                format!("k1:{key},k1:{key}"),
                "entry 2: key id `k1` appears twice",
            ),
            (
                format!("k1:{key},k2:{short}"),
                "entry 2 (key `k2`): the key must be 32 bytes",
            ),
            (
                "k1:not base64!".to_owned(),
                "entry 1 (key `k1`): the key is not valid base64",
            ),
        ];
        for (raw, expected) in cases {
            let problem = TokenKeys::parse(&raw).unwrap_err();
            assert!(problem.contains(expected), "{raw:?}: {problem}");
            assert!(
                !problem.contains(&key) && !problem.contains(&short),
                "{problem}"
            );
        }
    }

    #[test]
    fn from_env_names_the_variable_and_reads_file_paths() {
        let missing = TokenKeys::from_env(&Env::default().scoped("publisher")).unwrap_err();
        assert_eq!(missing.var, VAR);
        assert!(missing.problem.contains("HERALD_PUBLISHER_TOKEN_KEYS_FILE"));
        let bad = format!("k1:{}", STANDARD.encode([9u8; 31]));
        let error = TokenKeys::from_env(
            &Env::from_pairs([("HERALD_PUBLISHER_TOKEN_KEYS", bad.as_str())]).scoped("publisher"),
        )
        .unwrap_err();
        assert_eq!(error.var, VAR);
        assert!(!error.to_string().contains(&bad[3..]), "{error}");
        let dir = std::env::temp_dir().join(format!("token-keys-{}", std::process::id()));
        std::fs::write(&dir, format!("k9:{}\n", b64(1))).unwrap();
        let path = dir.display().to_string();
        let from_file = TokenKeys::from_env(
            &Env::from_pairs([("HERALD_PUBLISHER_TOKEN_KEYS_FILE", path.as_str())])
                .scoped("publisher"),
        );
        std::fs::remove_file(&dir).unwrap();
        assert_eq!(from_file.unwrap().current_id(), "k9");
    }

    #[test]
    fn seals_with_the_current_key_and_opens_with_any() {
        let account = uuid::Uuid::new_v4();
        let old = keys(&[("k1", 1)]);
        let sealed = old
            .seal(account, TokenColumn::Access, "secret-token")
            .unwrap();
        assert!(sealed.starts_with("v1:k1:"), "{sealed}");
        assert!(!sealed.contains("secret-token"));
        assert_ne!(
            sealed,
            old.seal(account, TokenColumn::Access, "secret-token")
                .unwrap()
        );
        assert_eq!(key_id_of(&sealed), Some("k1"));

        let rotated = keys(&[("k2", 2), ("k1", 1)]);
        let opened = rotated.open(account, TokenColumn::Access, &sealed).unwrap();
        assert_eq!(opened.token.expose(), "secret-token");
        assert!(opened.stale);
        let resealed = rotated
            .reseal(account, TokenColumn::Access, &sealed)
            .unwrap();
        assert!(resealed.starts_with("v1:k2:"));
        let opened = rotated
            .open(account, TokenColumn::Access, &resealed)
            .unwrap();
        assert!(!opened.stale);
        assert_eq!(
            rotated
                .reseal(account, TokenColumn::Access, &resealed)
                .unwrap(),
            resealed
        );
    }

    #[test]
    fn a_token_moved_to_another_row_or_column_or_key_does_not_open() {
        let ring = keys(&[("k1", 1)]);
        let (a, b) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
        let sealed = ring.seal(a, TokenColumn::Access, "tok").unwrap();
        let open = |account, column, stored: &str| ring.open(account, column, stored).err();
        assert_eq!(
            open(b, TokenColumn::Access, &sealed),
            Some(TokenError::Open("k1".into()))
        );
        assert_eq!(
            open(a, TokenColumn::Refresh, &sealed),
            Some(TokenError::Open("k1".into()))
        );
        let other = keys(&[("k1", 9)]);
        assert!(other.open(a, TokenColumn::Access, &sealed).is_err());
        let unknown = keys(&[("k2", 1)]);
        let error = unknown.open(a, TokenColumn::Access, &sealed).err().unwrap();
        assert_eq!(error, TokenError::UnknownKey("k1".into()));
        assert!(
            error
                .to_string()
                .contains("missing from HERALD_PUBLISHER_TOKEN_KEYS")
        );
        assert_eq!(
            open(a, TokenColumn::Access, "v1:k1:@@@"),
            Some(TokenError::Format)
        );
        assert_eq!(
            open(a, TokenColumn::Access, "v1:k1:AAAA"),
            Some(TokenError::Format)
        );
    }

    #[test]
    fn clear_text_is_legacy_and_empty_stays_empty() {
        let ring = keys(&[("k1", 1)]);
        let id = uuid::Uuid::new_v4();
        let legacy = ring.open(id, TokenColumn::Access, "plain-old").unwrap();
        assert_eq!(legacy.token.expose(), "plain-old");
        assert!(legacy.stale);
        assert_eq!(key_id_of("plain-old"), None);
        let empty = ring.open(id, TokenColumn::Access, "").unwrap();
        assert!(!empty.stale && empty.token.expose().is_empty());
        assert_eq!(ring.seal(id, TokenColumn::Access, "").unwrap(), "");
    }

    #[test]
    fn debug_shows_key_ids_only() {
        let shown = format!("{:?}", keys(&[("k2", 2), ("k1", 1)]));
        assert_eq!(shown, r#"TokenKeys { ids: ["k2", "k1"], .. }"#);
    }
}
