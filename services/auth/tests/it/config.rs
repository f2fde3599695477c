//! Start-up configuration: auth refuses to start without its master key, naming the variable
//! and never repeating a secret.

use herald_auth::start;
use herald_kit::{Env, KitError};

/// Nothing listens on these: the configuration is checked before anything connects.
const NATS_URL: &str = "nats://127.0.0.1:1";
const DATABASE_URL: &str = "postgres://auth:db-password-s3cret@127.0.0.1:1/auth";

async fn config_error(env: Env) -> herald_kit::ConfigError {
    match start(env).await {
        Err(KitError::Config(error)) => error,
        Err(other) => panic!("expected a configuration error, got {other}"),
        Ok(_) => panic!("started without a valid master key"),
    }
}

#[tokio::test]
async fn a_missing_master_key_is_a_config_error_naming_it() {
    let error = config_error(Env::from_pairs([
        ("HERALD_NATS_URL", NATS_URL),
        ("HERALD_DATABASE_URL", DATABASE_URL),
        ("HERALD_OPS_ADDR", "127.0.0.1:0"),
    ]))
    .await;
    assert_eq!(error.var, "HERALD_AUTH_MASTER_KEY");
    let shown = error.to_string();
    assert!(shown.contains("HERALD_AUTH_MASTER_KEY"), "{shown}");
    assert!(shown.contains("HERALD_AUTH_MASTER_KEY_FILE"), "{shown}");
    assert!(!shown.contains("s3cret"), "{shown}");
}

#[tokio::test]
async fn a_malformed_master_key_is_refused_without_showing_it() {
    for bad in ["dG9vLXNob3J0", "not base64 at all: s3cret!"] {
        let error = config_error(Env::from_pairs([
            ("HERALD_NATS_URL", NATS_URL),
            ("HERALD_DATABASE_URL", DATABASE_URL),
            ("HERALD_AUTH_MASTER_KEY", bad),
        ]))
        .await;
        assert_eq!(error.var, "HERALD_AUTH_MASTER_KEY");
        let shown = error.to_string();
        assert!(!shown.contains(bad), "{shown}");
        assert!(!shown.contains("s3cret"), "{shown}");
    }
}
