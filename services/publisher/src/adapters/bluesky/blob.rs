//! Images: each is uploaded with `com.atproto.repo.uploadBlob` (raw bytes) and the record
//! embeds the returned blob refs as `app.bsky.embed.images`. The PDS derives a blob's CID from
//! its bytes, so a retry uploads the same images, gets the same refs and writes a
//! byte-identical record — which `putRecord` then treats as a no-op. The embed is built from
//! the parsed fields in a fixed shape (never the answer passed through) so nothing else in the
//! answer can change the record's bytes.

use super::xrpc_error;
use crate::adapters::Creds;
use crate::adapters::util;
use crate::adapters::{MediaItem, PublishOutcome, Reply};
use reqwest::StatusCode;
use serde::Deserialize;

const IMAGES_EMBED: &str = "app.bsky.embed.images";

#[derive(Deserialize)]
struct Uploaded {
    blob: Blob,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Blob {
    r#ref: Link,
    mime_type: String,
    size: u64,
}

#[derive(Deserialize)]
struct Link {
    #[serde(rename = "$link")]
    link: String,
}

/// The `embed` for the post's images, `None` without images; or why the publish must stop.
pub(super) async fn images_embed(
    http: &reqwest::Client,
    creds: &Creds,
    media: &[MediaItem],
) -> Result<Option<serde_json::Value>, Reply<PublishOutcome>> {
    if media.is_empty() {
        return Ok(None);
    }
    let mut images = Vec::with_capacity(media.len());
    for item in media {
        let blob = upload(http, creds, item).await?;
        images.push(serde_json::json!({
            "alt": item.alt_text.clone().unwrap_or_default(),
            "image": {
                "$type": "blob",
                "ref": { "$link": blob.r#ref.link },
                "mimeType": blob.mime_type,
                "size": blob.size,
            },
        }));
    }
    Ok(Some(
        serde_json::json!({ "$type": IMAGES_EMBED, "images": images }),
    ))
}

async fn upload(
    http: &reqwest::Client,
    creds: &Creds,
    item: &MediaItem,
) -> Result<Blob, Reply<PublishOutcome>> {
    let sent = http
        .post(format!(
            "{}/xrpc/com.atproto.repo.uploadBlob",
            creds.base_url
        ))
        .bearer_auth(creds.access_token.expose())
        .header(reqwest::header::CONTENT_TYPE, &item.content_type)
        .body(item.bytes.clone())
        .send()
        .await;
    let response = sent.map_err(|error| Reply::new(util::upload_transport_outcome(&error)))?;
    let status = response.status();
    let rate = util::rate_limit(response.headers());
    if status.is_success() {
        return response
            .json::<Uploaded>()
            .await
            .map(|uploaded| uploaded.blob)
            .map_err(|error| Reply::with_rate(util::upload_transport_outcome(&error), rate));
    }
    let headers = response.headers().clone();
    let error = xrpc_error(response).await;
    let value = match (status, error.error.as_str()) {
        // Auth is checked before anything is stored; a refreshed token will pass.
        (StatusCode::BAD_REQUEST, "ExpiredToken") => PublishOutcome::Retryable {
            reason: "the access token has expired and must be refreshed".into(),
            retry_after: None,
        },
        (StatusCode::BAD_REQUEST, "InvalidToken") => PublishOutcome::Terminal {
            reason: format!("the platform refused the token: {}", error.describe()),
        },
        _ => util::upload_refused(status, &headers, &error.describe()),
    };
    Err(Reply::with_rate(value, rate))
}
