//! auth's own settings, read and checked before the service connects to anything, so a bad
//! variable stops it with exit code 2 and a message naming the variable (never its value).
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `HERALD_AUTH_MASTER_KEY` (or `_FILE`) | required | 32 bytes, base64: seals the signing keys at rest |
//! | `HERALD_AUTH_ARGON2_MEMORY_KIB` | 19456 | Argon2id memory cost (OWASP's 19 MiB) |
//! | `HERALD_AUTH_ARGON2_ITERATIONS` | 2 | Argon2id time cost |
//! | `HERALD_AUTH_ARGON2_PARALLELISM` | 1 | Argon2id lanes |
//! | `HERALD_AUTH_HASH_CONCURRENCY` | CPU count | password hashes computed at once |
//! | `HERALD_AUTH_LOGIN_MAX_FAILURES` | 5 | failed logins per account (email) within the window before it locks |
//! | `HERALD_AUTH_LOGIN_IP_MAX_FAILURES` | 20 | failed logins per client IP (IPv6: per /64) within the window |
//! | `HERALD_AUTH_LOGIN_WINDOW_SECS` | 900 | the window failures are counted in |
//! | `HERALD_AUTH_LOGIN_LOCK_SECS` | 300 | the first lock; each lockout in a row doubles it |
//! | `HERALD_AUTH_LOGIN_LOCK_MAX_SECS` | 3600 | the longest lock |
//! | `HERALD_AUTH_PUBLIC_APP_URL` | `http://localhost:8080` | the web app that emailed links open |
//! | `HERALD_AUTH_VERIFY_TOKEN_TTL_SECS` / `_RESET_TOKEN_TTL_SECS` / `_INVITATION_TTL_SECS` | 86400 / 3600 / 604800 | emailed tokens' lifetimes |
//! | `HERALD_AUTH_RESET_MAX_PER_EMAIL` / `_RESET_MAX_PER_IP` / `_RESET_WINDOW_SECS` | 3 / 20 / 3600 | reset (and verification) emails per address / per client IP within the window |

use crate::keys::MasterKey;
use crate::throttle::Limit;
use crate::throttle::login::LoginPolicy;
use herald_kit::{ConfigError, Env};
use std::time::Duration;

pub const MASTER_KEY: &str = "MASTER_KEY";

#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub master_key: MasterKey,
    pub argon2: argon2::Params,
    pub hash_concurrency: usize,
    pub login: LoginPolicy,
    /// Emailed tokens: links, lifetimes, reset throttling (`crate::identity`).
    pub identity: crate::identity::IdentityPolicy,
}

impl AuthConfig {
    /// `env` must be scoped to auth (`env.scoped("auth")`), so `HERALD_AUTH_*` is looked up.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let master_key =
            MasterKey::parse(env.secret(MASTER_KEY)?.expose()).map_err(|problem| ConfigError {
                var: "HERALD_AUTH_MASTER_KEY".into(),
                problem: problem.into(),
            })?;
        let memory_kib: u32 = env.optional("ARGON2_MEMORY_KIB", argon2::Params::DEFAULT_M_COST)?;
        let iterations: u32 = env.optional("ARGON2_ITERATIONS", argon2::Params::DEFAULT_T_COST)?;
        let parallelism: u32 =
            env.optional("ARGON2_PARALLELISM", argon2::Params::DEFAULT_P_COST)?;
        let argon2 = argon2_params(memory_kib, iterations, parallelism)?;
        let cpus = std::thread::available_parallelism().map_or(2, usize::from);
        let hash_concurrency: usize = env.optional("HASH_CONCURRENCY", cpus)?;
        if hash_concurrency == 0 {
            return Err(ConfigError {
                var: "HERALD_AUTH_HASH_CONCURRENCY".into(),
                problem: "must be at least 1".into(),
            });
        }
        Ok(Self {
            master_key,
            argon2,
            hash_concurrency,
            login: login_policy(env)?,
            identity: crate::identity::IdentityPolicy::from_env(env)?,
        })
    }
}

/// `HERALD_AUTH_LOGIN_*`: the login throttle. Account and IP share the window and the locks.
fn login_policy(env: &Env) -> Result<LoginPolicy, ConfigError> {
    let positive = |var: &str, default: u64| -> Result<u64, ConfigError> {
        let value: u64 = env.optional(var, default)?;
        if value == 0 {
            return Err(ConfigError {
                var: format!("HERALD_AUTH_{var}"),
                problem: "must be at least 1".into(),
            });
        }
        Ok(value)
    };
    let account_failures = positive("LOGIN_MAX_FAILURES", 5)?;
    let ip_failures = positive("LOGIN_IP_MAX_FAILURES", 20)?;
    let window = Duration::from_secs(positive("LOGIN_WINDOW_SECS", 900)?);
    let lock = Duration::from_secs(positive("LOGIN_LOCK_SECS", 300)?);
    let lock_max = Duration::from_secs(positive("LOGIN_LOCK_MAX_SECS", 3600)?);
    if lock_max < lock {
        return Err(ConfigError {
            var: "HERALD_AUTH_LOGIN_LOCK_MAX_SECS".into(),
            problem: "must be at least HERALD_AUTH_LOGIN_LOCK_SECS".into(),
        });
    }
    let limit = |max_failures: u64| Limit {
        max_failures: u32::try_from(max_failures).unwrap_or(u32::MAX),
        window,
        lock,
        lock_max,
    };
    Ok(LoginPolicy {
        account: limit(account_failures),
        ip: limit(ip_failures),
    })
}

/// Checks each Argon2id setting on its own so the error names the variable at fault.
fn argon2_params(
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
) -> Result<argon2::Params, ConfigError> {
    let invalid = |var: &str, problem: String| ConfigError {
        var: format!("HERALD_AUTH_{var}"),
        problem,
    };
    if iterations < argon2::Params::MIN_T_COST {
        return Err(invalid("ARGON2_ITERATIONS", "must be at least 1".into()));
    }
    if !(argon2::Params::MIN_P_COST..=argon2::Params::MAX_P_COST).contains(&parallelism) {
        return Err(invalid(
            "ARGON2_PARALLELISM",
            format!("must be between 1 and {}", argon2::Params::MAX_P_COST),
        ));
    }
    let min_memory = (8 * parallelism).max(argon2::Params::MIN_M_COST);
    if memory_kib < min_memory {
        return Err(invalid(
            "ARGON2_MEMORY_KIB",
            format!("must be at least {min_memory} (8 KiB per lane)"),
        ));
    }
    argon2::Params::new(memory_kib, iterations, parallelism, None).map_err(|error| {
        invalid(
            "ARGON2_MEMORY_KIB",
            format!("not usable by Argon2id: {error}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().copied()).scoped("auth")
    }

    #[test]
    fn defaults_are_owasp_argon2id() {
        let config = AuthConfig::from_env(&env(&[("HERALD_AUTH_MASTER_KEY", KEY)])).unwrap();
        assert_eq!(config.argon2.m_cost(), 19456);
        assert_eq!(config.argon2.t_cost(), 2);
        assert_eq!(config.argon2.p_cost(), 1);
        assert!(config.hash_concurrency >= 1);
    }

    #[test]
    fn reads_argon2_settings() {
        let config = AuthConfig::from_env(&env(&[
            ("HERALD_AUTH_MASTER_KEY", KEY),
            ("HERALD_AUTH_ARGON2_MEMORY_KIB", "65536"),
            ("HERALD_AUTH_ARGON2_ITERATIONS", "3"),
            ("HERALD_AUTH_ARGON2_PARALLELISM", "4"),
            ("HERALD_AUTH_HASH_CONCURRENCY", "2"),
        ]))
        .unwrap();
        assert_eq!(
            (
                config.argon2.m_cost(),
                config.argon2.t_cost(),
                config.argon2.p_cost()
            ),
            (65536, 3, 4)
        );
        assert_eq!(config.hash_concurrency, 2);
    }

    #[test]
    fn refuses_bad_values_by_name() {
        let error = AuthConfig::from_env(&env(&[
            ("HERALD_AUTH_MASTER_KEY", KEY),
            ("HERALD_AUTH_ARGON2_ITERATIONS", "0"),
        ]))
        .unwrap_err();
        assert!(error.var.contains("ITERATIONS"), "{error}");
        let error = AuthConfig::from_env(&env(&[
            ("HERALD_AUTH_MASTER_KEY", KEY),
            ("HERALD_AUTH_HASH_CONCURRENCY", "0"),
        ]))
        .unwrap_err();
        assert_eq!(error.var, "HERALD_AUTH_HASH_CONCURRENCY");
    }

    #[test]
    fn reads_the_login_throttle() {
        let config = AuthConfig::from_env(&env(&[("HERALD_AUTH_MASTER_KEY", KEY)])).unwrap();
        assert_eq!(config.login.account.max_failures, 5);
        assert_eq!(config.login.ip.max_failures, 20);
        assert_eq!(config.login.account.window.as_secs(), 900);
        let config = AuthConfig::from_env(&env(&[
            ("HERALD_AUTH_MASTER_KEY", KEY),
            ("HERALD_AUTH_LOGIN_MAX_FAILURES", "3"),
            ("HERALD_AUTH_LOGIN_LOCK_SECS", "2"),
            ("HERALD_AUTH_LOGIN_LOCK_MAX_SECS", "8"),
        ]))
        .unwrap();
        assert_eq!(config.login.account.max_failures, 3);
        assert_eq!(config.login.ip.lock.as_secs(), 2);
        assert_eq!(config.login.ip.lock_max.as_secs(), 8);
        let error = AuthConfig::from_env(&env(&[
            ("HERALD_AUTH_MASTER_KEY", KEY),
            ("HERALD_AUTH_LOGIN_LOCK_SECS", "60"),
            ("HERALD_AUTH_LOGIN_LOCK_MAX_SECS", "30"),
        ]))
        .unwrap_err();
        assert_eq!(error.var, "HERALD_AUTH_LOGIN_LOCK_MAX_SECS");
        let error = AuthConfig::from_env(&env(&[
            ("HERALD_AUTH_MASTER_KEY", KEY),
            ("HERALD_AUTH_LOGIN_MAX_FAILURES", "0"),
        ]))
        .unwrap_err();
        assert_eq!(error.var, "HERALD_AUTH_LOGIN_MAX_FAILURES");
    }

    #[test]
    fn reads_the_master_key_from_a_file() {
        let dir = std::env::temp_dir().join(format!("herald-auth-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("master_key");
        std::fs::write(&path, format!("{KEY}\n")).unwrap();
        let config = AuthConfig::from_env(&env(&[(
            "HERALD_AUTH_MASTER_KEY_FILE",
            path.to_str().unwrap(),
        )]));
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(config.is_ok());
    }
}
