//! The active signing key: created once for the whole fleet (under an advisory lock) and
//! loaded by every replica from the database.

use super::master::{MasterKey, SealError};
use crate::repo::keys::{self as signing_keys, StoredKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use diesel_async::AsyncConnection;
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use herald_kit::db::Db;
use herald_kit::{ConfigError, KitError};
use jsonwebtoken::EncodingKey;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};
use std::fmt;

/// The key this replica signs with. `Debug` shows the kid only.
pub struct ActiveKey {
    pub kid: String,
    pub encoding_key: EncodingKey,
}

impl fmt::Debug for ActiveKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActiveKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// The JWK `x` of a public key: base64url, no padding, of the raw 32 bytes.
pub fn public_x(key: &SigningKey) -> String {
    URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes())
}

/// The RFC 7638 JWK thumbprint of an Ed25519 public key: a kid that names the key itself.
pub fn thumbprint(x: &str) -> String {
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// Returns the newest non-retired key, creating one first if there is none. Replicas that
/// start together serialize on a transaction-scoped advisory lock, so exactly one creates it.
pub async fn ensure_signing_key(db: &Db, master: &MasterKey) -> Result<ActiveKey, KitError> {
    let mut conn = db.conn().await?;
    let stored = conn
        .transaction::<_, KitError, _>(async |conn| {
            signing_keys::lock_for_key_creation(conn).await?;
            if let Some(key) = signing_keys::newest_active(conn).await? {
                return Ok(key);
            }
            let key = SigningKey::generate(&mut OsRng);
            let x = public_x(&key);
            let kid = thumbprint(&x);
            let sealed = master
                .seal(kid.as_bytes(), &key.to_bytes())
                .map_err(|error| KitError::Other(format!("signing key {kid}: {error}")))?;
            let stored = signing_keys::insert(conn, &kid, &sealed, &x).await?;
            tracing::info!(key.kid = %kid, "signing key created");
            Ok(stored)
        })
        .await?;
    let active = unseal(&stored, master)?;
    tracing::info!(key.kid = %active.kid, "signing with key");
    Ok(active)
}

/// The key this replica should sign with now: the newest one not retired. `None` only if
/// there is none (a fresh database before `ensure_signing_key`).
pub async fn load_active_key(db: &Db, master: &MasterKey) -> Result<Option<ActiveKey>, KitError> {
    let stored = {
        let mut conn = db.conn().await?;
        signing_keys::newest_active(&mut conn).await?
    };
    stored.map(|stored| unseal(&stored, master)).transpose()
}

/// Key rotation: creates a new key, sealed like the first, and retires every other one in
/// the same transaction (under the creation lock). Returns the new key and the retired kids.
pub async fn rotate_signing_key(
    db: &Db,
    master: &MasterKey,
) -> Result<(ActiveKey, Vec<String>), KitError> {
    let mut conn = db.conn().await?;
    let (stored, retired) = conn
        .transaction::<_, KitError, _>(async |conn| {
            signing_keys::lock_for_key_creation(conn).await?;
            let key = SigningKey::generate(&mut OsRng);
            let x = public_x(&key);
            let kid = thumbprint(&x);
            let sealed = master
                .seal(kid.as_bytes(), &key.to_bytes())
                .map_err(|error| KitError::Other(format!("signing key {kid}: {error}")))?;
            let stored = signing_keys::insert(conn, &kid, &sealed, &x).await?;
            let retired = signing_keys::retire_all_except(conn, &kid, chrono::Utc::now()).await?;
            Ok((stored, retired))
        })
        .await?;
    let active = unseal(&stored, master)?;
    tracing::info!(key.kid = %active.kid, key.retired = ?retired, "signing key rotated");
    Ok((active, retired))
}

/// Opens a stored key and checks it against its public half. A key that does not open means
/// the master key is not the one it was sealed with: a configuration error, exit code 2.
fn unseal(stored: &StoredKey, master: &MasterKey) -> Result<ActiveKey, KitError> {
    let mut seed = master
        .open(stored.kid.as_bytes(), &stored.sealed_private_key)
        .map_err(|error| match error {
            SealError::Open => KitError::Config(ConfigError {
                var: "HERALD_AUTH_MASTER_KEY".into(),
                problem: format!(
                    "does not open signing key {} (is it the master key the fleet uses?)",
                    stored.kid
                ),
            }),
            other => KitError::Other(format!("signing key {}: {other}", stored.kid)),
        })?;
    let seed_bytes: Result<[u8; 32], _> = seed.as_slice().try_into();
    seed.fill(0);
    let key = SigningKey::from_bytes(&seed_bytes.map_err(|_| {
        KitError::Other(format!("signing key {} has the wrong length", stored.kid))
    })?);
    if public_x(&key) != stored.public_x {
        return Err(KitError::Other(format!(
            "signing key {} does not match its public key",
            stored.kid
        )));
    }
    let der = key
        .to_pkcs8_der()
        .map_err(|_| KitError::Other(format!("signing key {}: cannot encode", stored.kid)))?;
    Ok(ActiveKey {
        kid: stored.kid.clone(),
        encoding_key: EncodingKey::from_ed_der(der.as_bytes()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprint_matches_rfc_8037_example() {
        // RFC 8037, appendix A.3: the thumbprint of the example Ed25519 key.
        assert_eq!(
            thumbprint("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }

    #[test]
    fn active_key_debug_hides_material() {
        let key = SigningKey::generate(&mut OsRng);
        let der = key.to_pkcs8_der().unwrap();
        let active = ActiveKey {
            kid: "k1".into(),
            encoding_key: EncodingKey::from_ed_der(der.as_bytes()),
        };
        assert_eq!(format!("{active:?}"), r#"ActiveKey { kid: "k1", .. }"#);
    }
}
