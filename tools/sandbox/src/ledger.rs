//! The ledger: every post any platform accepted, in order, so tests can check what reached
//! "the network" (exactly once, with which idempotency key) without speaking each wire format.

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
    entries: Vec<LedgerEntry>,
}

impl Ledger {
    pub(crate) fn record(&mut self, entry: LedgerEntry) {
        self.entries.push(entry);
    }

    pub(crate) fn entries(&self, filter: &LedgerFilter) -> Vec<LedgerEntry> {
        self.entries
            .iter()
            .filter(|e| filter.matches(e))
            .cloned()
            .collect()
    }
}
