//! Argon2id password hashing off the async runtime: each hash or verification runs on the
//! blocking pool, at most `concurrency` at a time, so a burst of logins cannot starve the
//! executor or take unbounded memory (each one holds `memory_kib`).

use crate::domain::Password;
use argon2::{Algorithm, Argon2, PasswordHash, PasswordHasher, PasswordVerifier, Version};
use std::sync::Arc;
use tokio::sync::Semaphore;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("password hashing task failed: {0}")]
    Task(String),
}

pub struct Passwords {
    params: argon2::Params,
    permits: Arc<Semaphore>,
    /// A hash of a random password with the current parameters. Logins for unknown emails
    /// verify against it, so they cost the same time as logins for real accounts and the
    /// response time does not tell which emails are registered.
    dummy_hash: Arc<str>,
}

impl Passwords {
    /// Computes the dummy hash (one hash, on the blocking pool).
    pub async fn new(params: argon2::Params, concurrency: usize) -> Result<Self, PasswordError> {
        let mut passwords = Self {
            params,
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            dummy_hash: Arc::from(""),
        };
        let random = uuid::Uuid::new_v4().to_string();
        passwords.dummy_hash = Arc::from(passwords.hash_str(random).await?);
        Ok(passwords)
    }

    /// A PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`) with a fresh random salt.
    pub async fn hash(&self, password: &Password) -> Result<String, PasswordError> {
        self.hash_str(password.expose().to_owned()).await
    }

    async fn hash_str(&self, password: String) -> Result<String, PasswordError> {
        let params = self.params.clone();
        self.blocking(move || {
            Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
                .hash_password(password.as_bytes())
                .map(|hash| hash.to_string())
                .map_err(|error| PasswordError::Hash(error.to_string()))
        })
        .await
    }

    /// Whether `candidate` matches `stored`. With no stored hash (unknown user) the dummy
    /// hash is verified instead and the answer is always `false`. The cost is that of the
    /// stored hash's own parameters.
    pub async fn verify(
        &self,
        candidate: &str,
        stored: Option<&str>,
    ) -> Result<bool, PasswordError> {
        let known = stored.is_some();
        let hash: Arc<str> = stored.map_or_else(|| self.dummy_hash.clone(), Arc::from);
        let candidate = candidate.to_owned();
        let matched = self
            .blocking(move || {
                let parsed = PasswordHash::new(&hash)
                    .map_err(|error| PasswordError::Hash(format!("stored hash: {error}")))?;
                Ok(Argon2::default()
                    .verify_password(candidate.as_bytes(), &parsed)
                    .is_ok())
            })
            .await?;
        Ok(known && matched)
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, PasswordError> + Send + 'static,
    ) -> Result<T, PasswordError> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|error| PasswordError::Task(error.to_string()))?;
        tokio::task::spawn_blocking(move || {
            let result = work();
            drop(permit);
            result
        })
        .await
        .map_err(|error| PasswordError::Task(error.to_string()))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> argon2::Params {
        argon2::Params::new(64, 1, 1, None).unwrap()
    }

    #[tokio::test]
    async fn hashes_with_argon2id_and_verifies() {
        let passwords = Passwords::new(cheap(), 2).await.unwrap();
        let password = Password::parse("correct horse battery".into()).unwrap();
        let hash = passwords.hash(&password).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{hash}");
        assert!(!hash.contains("horse"));
        assert!(
            passwords
                .verify("correct horse battery", Some(&hash))
                .await
                .unwrap()
        );
        assert!(
            !passwords
                .verify("wrong horse battery", Some(&hash))
                .await
                .unwrap()
        );
        // Two hashes of one password differ (random salt).
        assert_ne!(hash, passwords.hash(&password).await.unwrap());
    }

    #[tokio::test]
    async fn unknown_user_never_matches_but_still_verifies() {
        let passwords = Passwords::new(cheap(), 1).await.unwrap();
        assert!(passwords.dummy_hash.starts_with("$argon2id$"));
        assert!(!passwords.verify("anything at all", None).await.unwrap());
    }
}
