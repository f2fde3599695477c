//! Configuration from environment variables and `*_FILE` secret paths, validated once at
//! start-up. Service-specific keys are looked up as `HERALD_<SVC>_<KEY>` first, then
//! `HERALD_<KEY>`, so one environment can hold a whole fleet's settings.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A configuration problem, naming the variable and never its secret value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {var}: {problem}")]
pub struct ConfigError {
    pub var: String,
    pub problem: String,
}

/// A secret value: never printed by `Debug` or `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A snapshot of the environment (the process's, or a map in tests).
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: HashMap<String, String>,
    scope: Option<String>,
}

impl Env {
    pub fn from_process() -> Self {
        Self {
            vars: std::env::vars().collect(),
            scope: None,
        }
    }

    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            scope: None,
        }
    }

    /// The same variables, with service-scoped look-ups for `service`.
    pub fn scoped(&self, service: &str) -> Self {
        Self {
            vars: self.vars.clone(),
            scope: Some(service.to_ascii_uppercase().replace('-', "_")),
        }
    }

    /// The names tried for `key`, most specific first.
    fn names(&self, key: &str) -> Vec<String> {
        let mut names = Vec::with_capacity(2);
        if let Some(scope) = &self.scope {
            names.push(format!("HERALD_{scope}_{key}"));
        }
        names.push(format!("HERALD_{key}"));
        names
    }

    fn raw(&self, name: &str) -> Result<Option<String>, ConfigError> {
        if let Some(value) = self.vars.get(name) {
            return Ok(Some(value.clone()));
        }
        let file_var = format!("{name}_FILE");
        match self.vars.get(&file_var) {
            None => Ok(None),
            Some(path) => std::fs::read_to_string(path)
                .map(|text| Some(text.trim_end_matches(['\n', '\r']).to_owned()))
                .map_err(|error| ConfigError {
                    var: file_var,
                    problem: format!("cannot read {path}: {error}"),
                }),
        }
    }

    /// The value for `key` and the variable it came from.
    fn lookup(&self, key: &str) -> Result<Option<(String, String)>, ConfigError> {
        for name in self.names(key) {
            if let Some(value) = self.raw(&name)? {
                return Ok(Some((name, value)));
            }
        }
        Ok(None)
    }

    fn missing(&self, key: &str) -> ConfigError {
        let names = self.names(key);
        ConfigError {
            var: names[0].clone(),
            problem: format!(
                "is required (set {} or {}_FILE)",
                names.join(" or "),
                names[0]
            ),
        }
    }

    pub fn required<T: FromStr>(&self, key: &str) -> Result<T, ConfigError>
    where
        T::Err: fmt::Display,
    {
        let (var, value) = self.lookup(key)?.ok_or_else(|| self.missing(key))?;
        parse(&var, &value)
    }

    pub fn optional<T: FromStr>(&self, key: &str, default: T) -> Result<T, ConfigError>
    where
        T::Err: fmt::Display,
    {
        match self.lookup(key)? {
            Some((var, value)) => parse(&var, &value),
            None => Ok(default),
        }
    }

    pub fn optional_duration_secs(
        &self,
        key: &str,
        default: Duration,
    ) -> Result<Duration, ConfigError> {
        match self.lookup(key)? {
            Some((var, value)) => {
                let secs: f64 = parse(&var, &value)?;
                if !(secs.is_finite() && secs >= 0.0) {
                    return Err(ConfigError {
                        var,
                        problem: format!("{value:?} is not a non-negative number of seconds"),
                    });
                }
                Ok(Duration::from_secs_f64(secs))
            }
            None => Ok(default),
        }
    }

    pub fn secret(&self, key: &str) -> Result<Secret, ConfigError> {
        let (var, value) = self.lookup(key)?.ok_or_else(|| self.missing(key))?;
        if value.is_empty() {
            return Err(ConfigError {
                var,
                problem: "is empty".into(),
            });
        }
        Ok(Secret(value))
    }

    pub fn optional_secret(&self, key: &str) -> Result<Option<Secret>, ConfigError> {
        Ok(self
            .lookup(key)?
            .filter(|(_, value)| !value.is_empty())
            .map(|(_, value)| Secret(value)))
    }
}

fn parse<T: FromStr>(var: &str, value: &str) -> Result<T, ConfigError>
where
    T::Err: fmt::Display,
{
    value.parse().map_err(|error: T::Err| ConfigError {
        var: var.to_owned(),
        problem: format!("{value:?} is invalid: {error}"),
    })
}

/// How a service proves who it is to NATS. Production servers give each service its own
/// user with subject permissions (docs/security.md), so one service's credentials cannot speak
/// for another, and a client on the network without credentials cannot connect at all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum NatsAuth {
    /// No credentials (a private development server).
    #[default]
    None,
    /// `HERALD_NATS_USER` with `HERALD_NATS_PASSWORD` (or `_FILE`).
    UserPassword { user: String, password: Secret },
    /// `HERALD_NATS_TOKEN` (or `_FILE`).
    Token(Secret),
}

/// Where and how to connect to NATS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NatsConnect {
    pub url: String,
    pub auth: NatsAuth,
    /// `HERALD_NATS_CA_FILE`: a PEM bundle to trust for `tls://` servers (and TLS required).
    pub ca_file: Option<std::path::PathBuf>,
}

impl NatsConnect {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Self::from_env_with_url(env, env.required("NATS_URL")?)
    }

    /// The credentials and TLS trust from `env`, for `url` (operator tools take the URL from
    /// their command line).
    pub fn from_env_with_url(env: &Env, url: String) -> Result<Self, ConfigError> {
        if !url.starts_with("nats://") && !url.starts_with("tls://") {
            return Err(ConfigError {
                var: "HERALD_NATS_URL".into(),
                problem: format!("{url:?} must start with nats:// or tls://"),
            });
        }
        let user: String = env.optional("NATS_USER", String::new())?;
        let password = env.optional_secret("NATS_PASSWORD")?;
        let token = env.optional_secret("NATS_TOKEN")?;
        let auth = match (user.is_empty(), password, token) {
            (true, None, None) => NatsAuth::None,
            (false, Some(password), None) => NatsAuth::UserPassword { user, password },
            (true, None, Some(token)) => NatsAuth::Token(token),
            (false, None, None) => {
                return Err(ConfigError {
                    var: "HERALD_NATS_PASSWORD".into(),
                    problem: "is required with HERALD_NATS_USER".into(),
                });
            }
            (true, Some(_), None) => {
                return Err(ConfigError {
                    var: "HERALD_NATS_USER".into(),
                    problem: "is required with HERALD_NATS_PASSWORD".into(),
                });
            }
            (_, _, Some(_)) => {
                return Err(ConfigError {
                    var: "HERALD_NATS_TOKEN".into(),
                    problem: "set either a token or a user and password, not both".into(),
                });
            }
        };
        let ca_file: String = env.optional("NATS_CA_FILE", String::new())?;
        Ok(Self {
            url,
            auth,
            ca_file: (!ca_file.is_empty()).then(|| ca_file.into()),
        })
    }
}

/// Settings every service has.
#[derive(Debug, Clone)]
pub struct CommonConfig {
    pub nats_url: String,
    /// The URL again, with credentials and TLS trust.
    pub nats: NatsConnect,
    /// Absent for services that own no tables (the gateway).
    pub database_url: Option<Secret>,
    pub ops_addr: std::net::SocketAddr,
    pub log_filter: String,
    pub shutdown_timeout: Duration,
    pub db_pool_size: u32,
    pub consumer_concurrency: usize,
    pub duplicate_window: Duration,
    pub stream_replicas: usize,
    pub outbox_sweep: Duration,
    pub rpc_timeout: Duration,
    /// Consumers' ack wait: how soon a message held by a crashed process is redelivered.
    pub ack_wait: Duration,
    /// Group commit: units per transaction at most, and transactions in flight per group.
    pub group: crate::group::GroupConfig,
    /// The role services query as (`HERALD_DB_ROLE`), subject to row-level security.
    pub db_role: String,
}

impl CommonConfig {
    pub fn from_env(env: &Env, needs_database: bool) -> Result<Self, ConfigError> {
        let nats = NatsConnect::from_env(env)?;
        let nats_url = nats.url.clone();
        let database_url = if needs_database {
            let url = env.secret("DATABASE_URL")?;
            if !url.expose().starts_with("postgres://")
                && !url.expose().starts_with("postgresql://")
            {
                return Err(ConfigError {
                    var: "HERALD_DATABASE_URL".into(),
                    problem: "must be a postgres:// URL".into(),
                });
            }
            Some(url)
        } else {
            None
        };
        let db_pool_size: u32 = env.optional("DB_POOL_SIZE", 10)?;
        if db_pool_size == 0 {
            return Err(ConfigError {
                var: "HERALD_DB_POOL_SIZE".into(),
                problem: "must be at least 1".into(),
            });
        }
        let consumer_concurrency: usize = env.optional("CONSUMER_CONCURRENCY", 64)?;
        if consumer_concurrency == 0 {
            return Err(ConfigError {
                var: "HERALD_CONSUMER_CONCURRENCY".into(),
                problem: "must be at least 1".into(),
            });
        }
        let group = crate::group::GroupConfig {
            max: env.optional("GROUP_MAX", 64)?,
            workers: env.optional("GROUP_WORKERS", 4)?,
        };
        if group.max == 0 || group.workers == 0 {
            return Err(ConfigError {
                var: "HERALD_GROUP_MAX / HERALD_GROUP_WORKERS".into(),
                problem: "must be at least 1".into(),
            });
        }
        let db_role: String =
            env.optional("DB_ROLE", crate::tenancy::DEFAULT_SERVICE_ROLE.to_owned())?;
        if crate::db::check_identifier("role", &db_role).is_err() {
            return Err(ConfigError {
                var: "HERALD_DB_ROLE".into(),
                problem: format!("{db_role:?} must be a lowercase identifier"),
            });
        }
        Ok(Self {
            group,
            db_role,
            nats_url,
            nats,
            database_url,
            ops_addr: env.optional("OPS_ADDR", ([0, 0, 0, 0], 9090).into())?,
            log_filter: env.optional("LOG", "info".to_owned())?,
            shutdown_timeout: env
                .optional_duration_secs("SHUTDOWN_TIMEOUT_SECS", Duration::from_secs(20))?,
            db_pool_size,
            consumer_concurrency,
            duplicate_window: env
                .optional_duration_secs("DUPLICATE_WINDOW_SECS", Duration::from_secs(120))?,
            stream_replicas: env.optional("STREAM_REPLICAS", 1)?,
            outbox_sweep: env
                .optional_duration_secs("OUTBOX_SWEEP_SECS", Duration::from_secs(5))?,
            rpc_timeout: env.optional_duration_secs("RPC_TIMEOUT_SECS", Duration::from_secs(10))?,
            ack_wait: env.optional_duration_secs("ACK_WAIT_SECS", Duration::from_secs(30))?,
        })
    }
}
