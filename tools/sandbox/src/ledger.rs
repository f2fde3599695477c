//! The ledger: every post any platform accepted, in order, so tests can check what reached
//! "the network" (exactly once, with which idempotency key, carrying which images) without
//! speaking each wire format.
//!
//! The images of a post are kept beside its [`LedgerEntry`] rather than in it, so every
//! existing producer and reader of entries is unchanged; [`LedgerPost`] joins the two (it is
//! what `GET /__sandbox/ledger` serves: the entry's fields plus `media`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::platform::Platform;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub platform: Platform,
    pub account_id: String,
    /// The platform's id of the post (a Mastodon status id, later a Bluesky rkey, ...).
    pub status_id: String,
    pub text: String,
    pub media_ids: Vec<String>,
    pub idempotency_key: Option<String>,
    #[serde(serialize_with = "crate::time::serialize_millis")]
    pub created_at: DateTime<Utc>,
}

/// One image a post carries, as the platform received it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerMedia {
    /// SHA-256 of the uploaded bytes, hex.
    pub sha256: String,
    /// Length of the uploaded bytes.
    pub size: usize,
    pub content_type: String,
    /// The alt text the platform stores with it (in the upload or in the post, per platform).
    pub alt_text: Option<String>,
}

/// A ledger entry with the images its post carries, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerPost {
    #[serde(flatten)]
    pub entry: LedgerEntry,
    #[serde(default)]
    pub media: Vec<LedgerMedia>,
}

#[derive(Debug, Default, Clone)]
pub(crate) struct LedgerFilter {
    pub(crate) platform: Option<Platform>,
    pub(crate) account_id: Option<String>,
}

impl LedgerFilter {
    fn matches(&self, entry: &LedgerEntry) -> bool {
        self.platform.is_none_or(|p| p == entry.platform)
            && self
                .account_id
                .as_deref()
                .is_none_or(|id| id == entry.account_id)
    }
}

#[derive(Debug, Default)]
pub(crate) struct Ledger {
    entries: Vec<LedgerPost>,
}

impl Ledger {
    /// A post without images.
    pub(crate) fn record(&mut self, entry: LedgerEntry) {
        self.record_with_media(entry, Vec::new());
    }

    pub(crate) fn record_with_media(&mut self, entry: LedgerEntry, media: Vec<LedgerMedia>) {
        self.entries.push(LedgerPost { entry, media });
    }

    pub(crate) fn entries(&self, filter: &LedgerFilter) -> Vec<LedgerEntry> {
        self.posts(filter).into_iter().map(|p| p.entry).collect()
    }

    pub(crate) fn posts(&self, filter: &LedgerFilter) -> Vec<LedgerPost> {
        self.entries
            .iter()
            .filter(|p| filter.matches(&p.entry))
            .cloned()
            .collect()
    }
}
