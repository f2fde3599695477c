//! notifier's own settings, read and validated before anything connects.

use herald_kit::{ConfigError, Env};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct NotifierConfig {
    /// `HERALD_NOTIFIER_MAILBOX`: the mbox file emails are appended to.
    pub mailbox: PathBuf,
    /// `HERALD_NOTIFIER_FROM`: the sender address.
    pub from: String,
    /// `HERALD_NOTIFIER_MAIL_SWEEP_SECS`: how often pending emails are looked for without a wake-up.
    pub mail_sweep: Duration,
}

impl NotifierConfig {
    /// `env` is scoped to the notifier (`HERALD_NOTIFIER_*` first).
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let mailbox: String = env.optional("MAILBOX", ".herald/mailbox.mbox".to_owned())?;
        if mailbox.trim().is_empty() {
            return Err(ConfigError {
                var: "HERALD_NOTIFIER_MAILBOX".into(),
                problem: "is empty".into(),
            });
        }
        let from: String = env.optional("FROM", "herald@localhost".to_owned())?;
        if !is_plain_address(&from) {
            return Err(ConfigError {
                var: "HERALD_NOTIFIER_FROM".into(),
                problem: format!("{from:?} is not a plain address like herald@example.com"),
            });
        }
        let mail_sweep = env.optional_duration_secs("MAIL_SWEEP_SECS", Duration::from_secs(5))?;
        if mail_sweep < Duration::from_millis(100) {
            return Err(ConfigError {
                var: "HERALD_NOTIFIER_MAIL_SWEEP_SECS".into(),
                problem: "must be at least 0.1".into(),
            });
        }
        Ok(Self {
            mailbox: PathBuf::from(mailbox),
            from,
            mail_sweep,
        })
    }

    /// The domain part of the sender address, used in Message-IDs.
    pub fn from_domain(&self) -> &str {
        self.from
            .rsplit_once('@')
            .map_or("localhost", |(_, domain)| domain)
    }
}

/// `local@domain`, nothing that could end up splitting a header or the `From_` line.
fn is_plain_address(value: &str) -> bool {
    match value.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && value
                    .chars()
                    .all(|c| c.is_ascii_graphic() && !matches!(c, '<' | '>' | '"' | ',' | ';'))
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_validation() {
        let config = NotifierConfig::from_env(&Env::default().scoped("notifier")).unwrap();
        assert_eq!(config.mailbox, PathBuf::from(".herald/mailbox.mbox"));
        assert_eq!(config.from, "herald@localhost");
        assert_eq!(config.from_domain(), "localhost");
        for bad in ["herald", "a b@c", "x@y\r\nBcc: z", "@host", "Herald <h@x>"] {
            let env = Env::from_pairs([("HERALD_NOTIFIER_FROM", bad)]).scoped("notifier");
            let error = NotifierConfig::from_env(&env).unwrap_err();
            assert_eq!(error.var, "HERALD_NOTIFIER_FROM");
        }
    }
}
