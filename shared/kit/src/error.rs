//! The kit's error type.

use crate::config::ConfigError;

#[derive(Debug, thiserror::Error)]
pub enum KitError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("nats: {0}")]
    Nats(String),
    #[error("database: {0}")]
    Database(String),
    #[error("migrations: {0}")]
    Migrations(String),
    #[error("ops server: {0}")]
    Ops(String),
    #[error("{0}")]
    Other(String),
}

impl KitError {
    pub fn nats(error: impl std::fmt::Display) -> Self {
        KitError::Nats(error.to_string())
    }
    pub fn db(error: impl std::fmt::Display) -> Self {
        KitError::Database(error.to_string())
    }
}

impl From<diesel::result::Error> for KitError {
    fn from(error: diesel::result::Error) -> Self {
        KitError::Database(error.to_string())
    }
}
