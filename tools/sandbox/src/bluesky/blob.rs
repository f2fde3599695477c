//! `com.atproto.repo.uploadBlob` and the `app.bsky.embed.images` embed that references blobs.
//!
//! As in the reference PDS: the body is the raw bytes with their `Content-Type`; the answer is
//! `{blob: {$type: "blob", ref: {$link: <cid>}, mimeType, size}}` where the CID is derived
//! from the bytes (CIDv1, raw codec, sha-256), so uploading the same image twice gives the
//! same reference and a record that embeds it stays byte-identical across retries. A record
//! may only reference blobs its repo uploaded (`BlobNotFound` otherwise). The publishing
//! faults apply except the dropped answer (an upload creates no post).

use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use chrono::Utc;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::auth;
use super::error::XrpcError;
use super::rate_limit::REPO_WRITES;
use super::store;
use crate::faults;
use crate::ledger::LedgerMedia;
use crate::platform::Platform;
use crate::state::Shared;
use crate::upload::{self, Image};

const IMAGES_EMBED: &str = "app.bsky.embed.images";
/// The PDS's blob limit, and the images lexicon's per-image limit.
const MAX_BLOB_BYTES: usize = 5_000_000;
const MAX_IMAGE_BYTES: u64 = 2_000_000;
const MAX_IMAGES: usize = 4;

/// The CID of raw bytes: CIDv1, raw codec (0x55), sha-256, base32 — `bafkrei...`.
pub(crate) fn blob_cid(bytes: &[u8]) -> String {
    let mut cid = vec![0x01, 0x55, 0x12, 0x20];
    cid.extend_from_slice(&Sha256::digest(bytes));
    format!("b{}", store::base32(&cid))
}

fn blob_json(cid: &str, image: &Image) -> Value {
    json!({
        "$type": "blob",
        "ref": { "$link": cid },
        "mimeType": image.content_type,
        "size": image.bytes.len(),
    })
}

pub(crate) async fn upload_blob(
    req: HttpRequest,
    body: web::Bytes,
    shared: web::Data<Shared>,
) -> HttpResponse {
    let faults = faults::delayed(&shared, Platform::Bluesky).await;
    if faults::roll(faults.error_rate) {
        tracing::info!(fault = "error", "bluesky upload failed by injected fault");
        return XrpcError::unavailable().error_response();
    }
    let now = Utc::now();
    let did = match auth::access(&req, now) {
        Ok(did) => did,
        Err(error) => return error.error_response(),
    };
    let image = upload::raw(&req, body);
    let mut state = shared.lock();
    if faults::roll(faults.rate_limit_rate) {
        tracing::info!(
            fault = "rate_limit",
            "bluesky upload throttled by injected fault"
        );
        let window = state.bluesky.rate.peek(&did, &REPO_WRITES, now);
        let error = window.map_or_else(XrpcError::internal, |w| {
            XrpcError::rate_limited(w.exhausted_until(now.timestamp() + 2))
        });
        return error.error_response();
    }
    if image.content_type.is_empty() {
        return XrpcError::invalid("Request encoding (Content-Type) required but not provided")
            .error_response();
    }
    if image.bytes.is_empty() {
        return XrpcError::invalid("Request body is empty").error_response();
    }
    if image.bytes.len() > MAX_BLOB_BYTES {
        return XrpcError::payload_too_large().error_response();
    }
    let cid = blob_cid(&image.bytes);
    let blob = blob_json(&cid, &image);
    tracing::info!(bluesky.did = %did, bluesky.blob = %cid, "bluesky blob uploaded");
    state.bluesky.put_blob(&did, &cid, image);
    HttpResponse::Ok().json(json!({ "blob": blob }))
}

/// Checks a post's `embed` (images only; other embeds are stored unchecked) and returns the
/// images it carries for the ledger.
pub(crate) fn embedded_images(
    state: &store::BlueskyState,
    did: &str,
    record: &Map<String, Value>,
) -> Result<Vec<LedgerMedia>, XrpcError> {
    let Some(embed) = record.get("embed") else {
        return Ok(Vec::new());
    };
    let invalid =
        |why: &str| XrpcError::invalid(format!("Invalid app.bsky.feed.post record: {why}"));
    if embed.get("$type").and_then(Value::as_str) != Some(IMAGES_EMBED) {
        return Ok(Vec::new());
    }
    let images = embed
        .get("images")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("Record/embed must have the property \"images\""))?;
    if images.len() > MAX_IMAGES {
        return Err(invalid(
            "Record/embed/images must not have more than 4 elements",
        ));
    }
    let mut carried = Vec::with_capacity(images.len());
    for (i, entry) in images.iter().enumerate() {
        let alt = entry.get("alt").and_then(Value::as_str).ok_or_else(|| {
            invalid(&format!(
                "Record/embed/images/{i} must have the property \"alt\""
            ))
        })?;
        let blob = entry.get("image");
        let cid = blob
            .and_then(|b| b.get("ref"))
            .and_then(|r| r.get("$link"))
            .and_then(Value::as_str)
            .filter(|_| blob.and_then(|b| b.get("$type")).and_then(Value::as_str) == Some("blob"))
            .ok_or_else(|| {
                invalid(&format!(
                    "Record/embed/images/{i}/image should be a blob ref"
                ))
            })?;
        let size = blob
            .and_then(|b| b.get("size"))
            .and_then(Value::as_u64)
            .unwrap_or(0);
        if size > MAX_IMAGE_BYTES {
            return Err(invalid(&format!(
                "Record/embed/images/{i}/image file too large. 2000000 bytes maximum"
            )));
        }
        let image = state.blob(did, cid).ok_or_else(|| {
            XrpcError::named("BlobNotFound", format!("Could not find blob: {cid}"))
        })?;
        carried.push(image.ledger((!alt.is_empty()).then(|| alt.to_owned())));
    }
    Ok(carried)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_cids_are_content_derived_raw_cids() {
        let a = blob_cid(b"image");
        assert_eq!(a, blob_cid(b"image"));
        assert_ne!(a, blob_cid(b"other"));
        assert!(a.starts_with("bafkrei"), "{a}");
    }
}
