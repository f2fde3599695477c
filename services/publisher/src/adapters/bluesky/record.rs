//! The post as a record: its deterministic key (a TID), its body (byte-identical on every
//! try) and how to recognise it when it is read back.

use crate::adapters::Publication;
use crate::adapters::util::normalize;
use chrono::{DateTime, SecondsFormat, Utc};
use sha2::{Digest, Sha256};

pub(super) const POST_COLLECTION: &str = "app.bsky.feed.post";
/// Where people read posts; not an API (the PDS has no web pages for posts).
const WEB_APP: &str = "https://bsky.app";
const BASE32_SORTABLE: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";

pub(super) fn is_our_record(value: &serde_json::Value, post: &Publication) -> bool {
    let text = value["text"].as_str().unwrap_or_default();
    let created_at = value["createdAt"]
        .as_str()
        .and_then(|at| DateTime::parse_from_rfc3339(at).ok());
    normalize(text) == normalize(&post.text)
        && created_at.is_some_and(|at| at.with_timezone(&Utc) == created_at_of(post))
}

/// `createdAt` as sent: the first attempt's time at millisecond precision, so every try
/// sends the same bytes.
fn created_at_of(post: &Publication) -> DateTime<Utc> {
    let millis = post.first_attempt_at.timestamp_millis();
    DateTime::from_timestamp_millis(millis).unwrap_or(post.first_attempt_at)
}

/// The record; `embed` (the images) must itself be the same on every try.
pub(super) fn post_record(
    post: &Publication,
    embed: Option<serde_json::Value>,
) -> serde_json::Value {
    let mut record = serde_json::json!({
        "$type": POST_COLLECTION,
        "text": post.text,
        "createdAt": created_at_of(post).to_rfc3339_opts(SecondsFormat::Millis, true),
    });
    if let Some(embed) = embed {
        record["embed"] = embed;
    }
    record
}

/// The post's TID: 53 bits of microseconds since the epoch (the first attempt) and a 10-bit
/// clock id from the idempotency key, in base32-sortable, 13 characters.
pub(super) fn record_key(post: &Publication) -> String {
    let micros = u64::try_from(post.first_attempt_at.timestamp_micros()).unwrap_or(0);
    let digest = Sha256::digest(post.idempotency_key.as_bytes());
    let clock_id = u64::from(u16::from_be_bytes([digest[0], digest[1]]) & 0x3ff);
    let value = ((micros & ((1 << 53) - 1)) << 10) | clock_id;
    (0..13)
        .rev()
        .map(|i| BASE32_SORTABLE[((value >> (5 * i)) & 31) as usize] as char)
        .collect()
}

pub(super) fn web_url(did: &str, rkey: &str) -> String {
    format!("{WEB_APP}/profile/{did}/post/{rkey}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn publication(at: DateTime<Utc>, key: &str) -> Publication {
        Publication {
            text: "hi".into(),
            idempotency_key: key.into(),
            first_attempt_at: at,
            checkpoint: None,
            media: Vec::new(),
        }
    }

    fn decode_tid(tid: &str) -> u64 {
        tid.bytes().fold(0, |value, c| {
            let digit = BASE32_SORTABLE.iter().position(|&d| d == c).unwrap_or(0);
            (value << 5) | digit as u64
        })
    }

    #[test]
    fn the_record_key_is_a_deterministic_tid() {
        let at = DateTime::parse_from_rfc3339("2026-03-01T12:00:00.123456Z")
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_default();
        let key = record_key(&publication(at, "post:account"));
        assert_eq!(key.len(), 13);
        assert_eq!(key, record_key(&publication(at, "post:account")));
        assert!(b"234567abcdefghij".contains(&key.as_bytes()[0]), "{key}");
        let value = decode_tid(&key);
        assert_eq!(value >> 10, at.timestamp_micros() as u64);
        assert_ne!(key, record_key(&publication(at, "other:account")));
        // Later first attempts sort later, as TIDs must.
        let later = at + chrono::Duration::microseconds(1);
        assert!(record_key(&publication(later, "post:account")) > key);
    }

    #[test]
    fn the_record_is_the_same_bytes_every_time() {
        let at = Utc::now();
        let post = publication(at, "k");
        let record = post_record(&post, None);
        assert_eq!(
            serde_json::to_string(&record).ok(),
            serde_json::to_string(&post_record(&post, None)).ok()
        );
        assert_eq!(record["$type"], POST_COLLECTION);
        let created = record["createdAt"].as_str().unwrap_or_default();
        assert!(created.ends_with('Z') && created.len() == 24, "{created}");
        assert!(is_our_record(&record, &post));
    }
}
