//! The JSON of Graph nodes (users, containers, media) and Graph's field selection: a node
//! answers with `id` plus the fields asked for in `fields=`, and refuses unknown fields.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::auth::Account;
use super::error::GraphError;
use super::store::{Container, Media, MediaType, Status};
use super::{Flavor, Kind};

/// Graph's timestamp format: `2026-01-01T12:00:00+0000`.
pub(crate) fn timestamp(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%z").to_string()
}

/// Keeps `id` and the requested fields; `requested` is the raw `fields` parameter.
pub(crate) fn select(
    node_type: &str,
    full: Map<String, Value>,
    requested: Option<&str>,
    default: &[&str],
) -> Result<Value, GraphError> {
    let names: Vec<&str> = match requested {
        Some(fields) => fields
            .split(',')
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .collect(),
        None => default.to_vec(),
    };
    let mut out = Map::new();
    for name in names {
        match full.get(name) {
            // A field without a value (an error message of a healthy container) is omitted.
            Some(Value::Null) => {}
            Some(value) => {
                out.insert(name.to_owned(), value.clone());
            }
            None => return Err(GraphError::nonexisting_field(name, node_type)),
        }
    }
    if let Some(id) = full.get("id") {
        out.insert("id".into(), id.clone());
    }
    Ok(Value::Object(out))
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

pub(crate) fn user(
    flavor: &Flavor,
    account: &Account,
    media_count: usize,
) -> (&'static str, Map<String, Value>) {
    match flavor.kind {
        Kind::Instagram => (
            "IGUser",
            object(json!({
                "id": account.id,
                "user_id": account.id,
                "username": account.username,
                "name": account.username,
                "account_type": "BUSINESS",
                "media_count": media_count,
                "followers_count": 0,
                "follows_count": 0,
            })),
        ),
        Kind::Threads => (
            "ThreadsUser",
            object(json!({
                "id": account.id,
                "username": account.username,
                "name": account.username,
                "threads_biography": "",
                "threads_profile_picture_url": null,
            })),
        ),
    }
}

pub(crate) fn container(
    flavor: &Flavor,
    container: &Container,
    now: DateTime<Utc>,
) -> (&'static str, Map<String, Value>) {
    let status = container.status(now);
    match flavor.kind {
        Kind::Instagram => {
            // `status` is a human text; with ERROR it carries the error subcode.
            let text = match status {
                Status::InProgress => "In Progress: Media is still being processed.".to_owned(),
                Status::Finished => {
                    "Finished: Media has been uploaded and it is ready to be published.".to_owned()
                }
                Status::Error => {
                    "Error: Media upload has failed with error code 2207052".to_owned()
                }
                Status::Expired => "Expired: Media container has expired.".to_owned(),
                Status::Published => "Published: Media has been published.".to_owned(),
            };
            (
                "ShadowIGMediaBuilder",
                object(json!({
                    "id": container.id,
                    "status_code": status.as_str(),
                    "status": text,
                })),
            )
        }
        Kind::Threads => (
            "ThreadsMediaContainer",
            object(json!({
                "id": container.id,
                "status": status.as_str(),
                "error_message": (status == Status::Error).then_some("UNKNOWN"),
            })),
        ),
    }
}

/// The short code in a post's permalink, derived from its id.
pub(crate) fn shortcode(media_id: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    Sha256::digest(media_id.as_bytes())
        .iter()
        .take(11)
        .map(|b| char::from(ALPHABET[usize::from(b % 64)]))
        .collect()
}

pub(crate) fn permalink(flavor: &Flavor, media: &Media) -> String {
    let code = shortcode(&media.id);
    match flavor.kind {
        Kind::Instagram => format!("https://www.instagram.com/p/{code}/"),
        Kind::Threads => format!(
            "https://www.threads.net/@{}/post/{code}",
            media.owner.username
        ),
    }
}

pub(crate) fn media(flavor: &Flavor, media: &Media) -> (&'static str, Map<String, Value>) {
    let body = &media.body;
    match flavor.kind {
        Kind::Instagram => (
            "IGMedia",
            object(json!({
                "id": media.id,
                "caption": body.text,
                "media_type": "IMAGE",
                "media_product_type": "FEED",
                "media_url": body.image_url,
                "permalink": permalink(flavor, media),
                "shortcode": shortcode(&media.id),
                "timestamp": timestamp(&media.created_at),
                "username": media.owner.username,
                "owner": { "id": media.owner.id },
                "like_count": super::insight_value(&media.id, "likes"),
                "comments_count": super::insight_value(&media.id, "comments"),
            })),
        ),
        Kind::Threads => (
            "ThreadsMedia",
            object(json!({
                "id": media.id,
                "text": body.text,
                "media_type": match body.media_type {
                    MediaType::Text => "TEXT_POST",
                    MediaType::Image => "IMAGE",
                },
                "media_product_type": "THREADS",
                "media_url": body.image_url,
                "permalink": permalink(flavor, media),
                "shortcode": shortcode(&media.id),
                "timestamp": timestamp(&media.created_at),
                "username": media.owner.username,
                "owner": { "id": media.owner.id },
                "is_quote_post": false,
            })),
        ),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn selects_requested_fields_and_refuses_unknown_ones() {
        let full = object(json!({ "id": "1", "a": 1, "b": null, "c": 3 }));
        let picked = select("T", full.clone(), Some("a,b"), &[]).unwrap();
        assert_eq!(picked, json!({ "id": "1", "a": 1 }));
        assert_eq!(
            select("T", full.clone(), None, &["c"]).unwrap(),
            json!({ "id": "1", "c": 3 })
        );
        assert!(select("T", full, Some("nope"), &[]).is_err());
    }

    #[test]
    fn timestamps_use_graphs_offset_format() {
        let at = DateTime::from_timestamp(0, 0).unwrap();
        assert_eq!(timestamp(&at), "1970-01-01T00:00:00+0000");
        assert_eq!(shortcode("1").len(), 11);
    }
}
