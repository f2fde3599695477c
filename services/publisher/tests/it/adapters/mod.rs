//! Each adapter against the sandbox: classification of every outcome and reconciliation after
//! ambiguous ones. No NATS or Postgres here: an adapter is an HTTP client.

mod bluesky;
mod facebook;
mod instagram;
mod linkedin;
mod mastodon;
mod threads;
mod x;

use herald_publisher::adapters::{
    Adapters, Creds, MediaItem, PlatformAdapter, PlatformConfig, Publication, PublishOutcome,
};

/// A small PNG (the sandbox's platforms accept any image bytes).
pub const PNG: &[u8] =
    b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";

/// One attached image, served from `url` for the platforms that fetch it.
#[allow(dead_code)]
pub fn image(url: Option<&str>) -> Vec<MediaItem> {
    vec![MediaItem {
        bytes: bytes::Bytes::from_static(PNG),
        content_type: "image/png".into(),
        alt_text: Some("a test card".into()),
        public_url: url.map(str::to_owned),
        content_hash: "0".repeat(64),
    }]
}

/// A sandbox and every adapter configured to call it (each platform under its own prefix).
#[allow(dead_code)]
pub struct Harness {
    pub sandbox: herald_sandbox::SandboxHandle,
    pub config: PlatformConfig,
    pub adapters: Adapters,
    pub http: reqwest::Client,
}

impl Harness {
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(&[]).await
    }

    /// Extra publisher-scoped settings, e.g. `("MASTODON_IDEMPOTENCY_WINDOW_SECS", "0")`.
    pub async fn start_with(extra: &[(&str, &str)]) -> anyhow::Result<Self> {
        let sandbox = herald_sandbox::start(std::net::TcpListener::bind("127.0.0.1:0")?).await?;
        let base = sandbox.base_url().to_owned();
        let mut pairs: Vec<(String, String)> = herald_contracts::messages::Platform::ALL
            .iter()
            .filter(|p| **p != herald_contracts::messages::Platform::Mastodon)
            .map(|p| {
                (
                    format!("HERALD_PUBLISHER_{}_URL", p.as_str().to_uppercase()),
                    format!("{base}/{}", p.as_str()),
                )
            })
            .collect();
        pairs.extend(
            extra
                .iter()
                .map(|(k, v)| (format!("HERALD_PUBLISHER_{k}"), (*v).to_owned())),
        );
        let env = herald_kit::Env::from_pairs(pairs).scoped("publisher");
        let config = PlatformConfig::from_env(&env)?;
        let http = herald_kit::http::client(std::time::Duration::from_secs(5))?;
        let adapters = Adapters::new(http.clone(), &config);
        Ok(Self {
            sandbox,
            config,
            adapters,
            http,
        })
    }
}

/// Two different images with their own alt texts, in order (the second only for the platforms
/// that post several).
#[allow(dead_code)]
pub fn two_images() -> Vec<MediaItem> {
    let mut second = PNG.to_vec();
    second.extend_from_slice(b"second");
    let mut images = image(None);
    images.push(MediaItem {
        bytes: bytes::Bytes::from(second),
        content_type: "image/png".into(),
        alt_text: Some("another card".into()),
        public_url: None,
        content_hash: "1".repeat(64),
    });
    images
}

/// SHA-256 of `bytes`, hex: what the sandbox's ledger records for an uploaded image.
#[allow(dead_code)]
pub fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Asserts the sandbox's only post carries `sent`, in order: the same bytes and, where the
/// platform stores one, the same alt text.
#[allow(dead_code)]
pub fn assert_carries(
    sandbox: &herald_sandbox::SandboxHandle,
    sent: &[MediaItem],
    with_alt_text: bool,
) {
    let posts = sandbox.posts();
    assert_eq!(posts.len(), 1, "exactly one post: {posts:?}");
    let carried: Vec<(String, usize, Option<String>)> = posts[0]
        .media
        .iter()
        .map(|m| (m.sha256.clone(), m.size, m.alt_text.clone()))
        .collect();
    let expected: Vec<(String, usize, Option<String>)> = sent
        .iter()
        .map(|m| {
            let alt = if with_alt_text {
                m.alt_text.clone()
            } else {
                None
            };
            (sha256(&m.bytes), m.bytes.len(), alt)
        })
        .collect();
    assert_eq!(carried, expected);
}

/// Asserts that an upload refused with a 429, then with a 5xx, is retryable (never ambiguous:
/// no post exists before the upload succeeds) and that nothing reaches the platform. Faults
/// are cleared afterwards.
#[allow(dead_code)]
pub async fn assert_failed_uploads_are_retryable(
    h: &Harness,
    platform: herald_sandbox::Platform,
    adapter: &dyn PlatformAdapter,
    creds: &Creds,
    post: &Publication,
) -> anyhow::Result<()> {
    assert!(!post.media.is_empty(), "the post must carry an image");
    for faults in [
        herald_sandbox::Faults {
            rate_limit_rate: 1.0,
            ..herald_sandbox::Faults::default()
        },
        herald_sandbox::Faults {
            error_rate: 1.0,
            ..herald_sandbox::Faults::default()
        },
    ] {
        h.sandbox.set_faults(platform, faults)?;
        let outcome = adapter.publish(creds, post).await.value;
        assert!(
            matches!(outcome, PublishOutcome::Retryable { .. }),
            "{outcome:?}"
        );
    }
    assert!(h.sandbox.ledger().is_empty());
    h.sandbox
        .set_faults(platform, herald_sandbox::Faults::default())?;
    Ok(())
}
