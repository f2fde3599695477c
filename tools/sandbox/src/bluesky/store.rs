//! What the sandbox PDS remembers: accounts (handle ↔ DID), records by (DID, collection,
//! rkey) with their CIDs, rotated refresh tokens and rate-limit counters. Lives inside the
//! sandbox's single mutex; nothing here blocks or awaits.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::rate_limit::RateLimiter;
use crate::upload::Image;

/// How long a rotated refresh token still answers with the session that replaced it (the
/// reference PDS's grace period, so a client that lost the answer can retry).
const REFRESH_GRACE: Duration = Duration::hours(2);

/// The handle the network shows for a DID whose handle it cannot verify.
pub(crate) const INVALID_HANDLE: &str = "handle.invalid";

const BASE32_SORTABLE: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";
const BASE32_RFC4648: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub(crate) did: String,
    pub(crate) collection: String,
    pub(crate) rkey: String,
    pub(crate) cid: String,
    pub(crate) value: Value,
    pub(crate) indexed_at: DateTime<Utc>,
}

impl Record {
    pub(crate) fn uri(&self) -> String {
        format!("at://{}/{}/{}", self.did, self.collection, self.rkey)
    }
}

/// What a rotated refresh token gave, replayed within the grace period.
#[derive(Debug, Clone)]
pub(crate) struct Rotation {
    pub(crate) access_jwt: String,
    pub(crate) refresh_jwt: String,
    pub(crate) rotated_at: DateTime<Utc>,
}

#[derive(Debug, Default)]
pub(crate) struct BlueskyState {
    /// DID → handle of every account that opened a session.
    handles: HashMap<String, String>,
    records: BTreeMap<(String, String, String), Record>,
    /// Refresh token id (`jti`) → the session it was exchanged for.
    rotations: HashMap<String, Rotation>,
    pub(crate) rate: RateLimiter,
    /// Uploaded blobs by (DID, CID).
    blobs: HashMap<(String, String), Image>,
    /// Last TID handed out for a server-chosen rkey; survives resets.
    last_tid: u64,
}

impl BlueskyState {
    /// Forgets what a test could observe; the TID clock survives.
    pub(crate) fn reset(&mut self) {
        let last_tid = self.last_tid;
        *self = Self::default();
        self.last_tid = last_tid;
    }

    pub(crate) fn register(&mut self, did: &str, handle: &str) {
        self.handles.insert(did.to_owned(), handle.to_owned());
    }

    /// The handle of a known account.
    pub(crate) fn handle(&self, did: &str) -> Option<&str> {
        self.handles.get(did).map(String::as_str)
    }

    /// A DID (every DID has a repository here, as every credential is valid) or the handle
    /// of an account that opened a session, as its DID.
    pub(crate) fn resolve(&self, actor: &str) -> Option<String> {
        if actor.starts_with("did:") {
            return Some(actor.to_owned());
        }
        let handle = actor.trim_start_matches('@').to_ascii_lowercase();
        self.handles
            .iter()
            .find(|(_, h)| **h == handle)
            .map(|(did, _)| did.clone())
    }

    pub(crate) fn record(&self, did: &str, collection: &str, rkey: &str) -> Option<&Record> {
        self.records
            .get(&(did.to_owned(), collection.to_owned(), rkey.to_owned()))
    }

    pub(crate) fn put_blob(&mut self, did: &str, cid: &str, image: Image) {
        self.blobs.insert((did.to_owned(), cid.to_owned()), image);
    }

    pub(crate) fn blob(&self, did: &str, cid: &str) -> Option<&Image> {
        self.blobs.get(&(did.to_owned(), cid.to_owned()))
    }

    pub(crate) fn put(&mut self, record: Record) {
        let key = (
            record.did.clone(),
            record.collection.clone(),
            record.rkey.clone(),
        );
        self.records.insert(key, record);
    }

    pub(crate) fn rotation(&self, jti: &str, now: DateTime<Utc>) -> Option<Result<Rotation, ()>> {
        self.rotations.get(jti).map(|rotation| {
            if now - rotation.rotated_at < REFRESH_GRACE {
                Ok(rotation.clone())
            } else {
                Err(())
            }
        })
    }

    pub(crate) fn rotated(&mut self, jti: &str, rotation: Rotation) {
        self.rotations.insert(jti.to_owned(), rotation);
    }

    /// A fresh TID from the clock: microseconds since the epoch and a random clock id,
    /// strictly increasing.
    pub(crate) fn next_tid(&mut self, now: DateTime<Utc>) -> String {
        let micros = u64::try_from(now.timestamp_micros()).unwrap_or(0);
        let clock_id = u64::from(rand::random::<u16>() & 0x3ff);
        let value = ((micros << 10) | clock_id).max(self.last_tid + 1);
        self.last_tid = value;
        tid_string(value)
    }
}

/// A stable `did:plc` for a handle: 24 base32 characters, like the real ones.
pub(crate) fn did_for_handle(handle: &str) -> String {
    let digest = Sha256::digest(handle.as_bytes());
    let encoded = base32(&digest);
    format!("did:plc:{}", &encoded[..24])
}

/// 13 characters of base32-sortable, the TID syntax.
fn tid_string(value: u64) -> String {
    (0..13)
        .rev()
        .map(|i| BASE32_SORTABLE[((value >> (5 * i)) & 31) as usize] as char)
        .collect()
}

/// Whether `rkey` has the TID syntax (`[2-7a-j][2-7a-z]{12}`).
pub(crate) fn is_tid(rkey: &str) -> bool {
    let bytes = rkey.as_bytes();
    bytes.len() == 13
        && bytes.iter().all(|b| BASE32_SORTABLE.contains(b))
        && BASE32_SORTABLE[..16].contains(&bytes[0])
}

/// Whether `rkey` is a valid record key at all (1-512 of `A-Za-z0-9.-_:~`, not `.` or `..`).
pub(crate) fn is_record_key(rkey: &str) -> bool {
    (1..=512).contains(&rkey.len())
        && rkey != "."
        && rkey != ".."
        && rkey
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-_:~".contains(&b))
}

/// The record's CID: a CIDv1 (dag-cbor, sha-256) in base32, as the PDS prints them. The hash
/// is over the JSON with keys sorted, so equal records (in any key order) have equal CIDs,
/// as DAG-CBOR's canonical form guarantees on the real network.
pub(crate) fn cid_for(value: &Value) -> String {
    let canonical = serde_json::to_vec(&sorted(value)).unwrap_or_default();
    let digest = Sha256::digest(&canonical);
    let mut bytes = vec![0x01, 0x71, 0x12, 0x20];
    bytes.extend_from_slice(&digest);
    format!("b{}", base32(&bytes))
}

fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted(&map[k])))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// RFC 4648 base32, lower case, no padding (multibase `b`).
pub(crate) fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 8 / 5 + 1);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(BASE32_RFC4648[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(BASE32_RFC4648[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn tids_are_valid_and_increase() {
        let mut state = BlueskyState::default();
        let now = Utc::now();
        let a = state.next_tid(now);
        let b = state.next_tid(now);
        assert!(is_tid(&a) && is_tid(&b), "{a} {b}");
        assert!(b > a);
        assert!(!is_tid("zzzzzzzzzzzzz"));
        assert!(!is_tid("3abc"));
    }

    #[test]
    fn cids_ignore_key_order_and_look_like_dag_cbor_cids() {
        let a = serde_json::json!({ "text": "hi", "createdAt": "2026-01-01T00:00:00.000Z" });
        let b = serde_json::json!({ "createdAt": "2026-01-01T00:00:00.000Z", "text": "hi" });
        assert_eq!(cid_for(&a), cid_for(&b));
        assert!(cid_for(&a).starts_with("bafyrei"), "{}", cid_for(&a));
        assert_ne!(cid_for(&a), cid_for(&serde_json::json!({ "text": "ho" })));
    }

    #[test]
    fn dids_are_stable_per_handle() {
        let did = did_for_handle("alice.test");
        assert_eq!(did, did_for_handle("alice.test"));
        assert_eq!(did.len(), "did:plc:".len() + 24);
        assert_ne!(did, did_for_handle("bob.test"));
    }
}
