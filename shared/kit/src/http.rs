//! The outbound HTTP client every service uses to reach third parties: rustls with the ring
//! provider (the one async-nats already links), bounded timeouts, a Herald user agent.

use std::sync::Once;
use std::time::Duration;

static PROVIDER: Once = Once::new();

/// A client with a connect timeout of 5 s and an overall request timeout of `timeout`.
pub fn client(timeout: Duration) -> Result<reqwest::Client, crate::KitError> {
    PROVIDER.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(timeout)
        .user_agent(concat!("herald/", env!("CARGO_PKG_VERSION")))
        .pool_idle_timeout(Duration::from_secs(60))
        .build()
        .map_err(|error| crate::KitError::Other(format!("http client: {error}")))
}
