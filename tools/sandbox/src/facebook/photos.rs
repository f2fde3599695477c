//! `POST /{ver}/{page-id}/photos`: a photo uploaded as multipart `source`, unpublished
//! (`published=false`), to be attached to a feed post with
//! `attached_media=[{"media_fbid": "<photo id>"}]`. `alt_text_custom` is stored as the
//! photo's alt text. Answers `{"id": "<photo id>"}`. The publishing faults apply (latency,
//! outage, throttle) except the dropped answer: an unpublished photo is not a post.
//!
//! Publishing a photo directly (`published=true`, a photo post of its own) and `url` uploads
//! are not modelled and answer error 100.

use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use chrono::Utc;
use serde_json::{Value, json};

use super::auth;
use super::error::GraphError;
use super::feed::{check_version, query_params};
use super::usage::{self, Usage};
use crate::faults;
use crate::ledger::LedgerMedia;
use crate::platform::Platform;
use crate::state::{SandboxState, Shared};
use crate::upload::{self, FormError};

/// Graph's photo limit (4 MB) and the attachments one post may carry (sandbox figure).
const MAX_PHOTO_BYTES: usize = 4 * 1024 * 1024;
const MAX_ATTACHED: usize = 10;

pub(crate) async fn upload(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
    shared: web::Data<Shared>,
) -> HttpResponse {
    let faults = faults::delayed(&shared, Platform::Facebook).await;
    if faults::roll(faults.error_rate) {
        tracing::info!(
            fault = "error",
            "facebook photo upload failed by injected fault"
        );
        return GraphError::Temporary.error_response();
    }
    let (version, node) = path.into_inner();
    let form = upload::form(&req, body).await;
    let mut usage: Option<Usage> = None;
    let result = (|| {
        check_version(&version, &node, "photos")?;
        let form = form.map_err(|error| match error {
            FormError::NotMultipart => GraphError::InvalidParameter(
                "The sandbox takes photos only as a multipart `source` upload".to_owned(),
            ),
            FormError::Malformed(_) => {
                GraphError::InvalidParameter("The multipart body could not be parsed".to_owned())
            }
        })?;
        let query = query_params(&req)?;
        let param = |name: &str| {
            form.field(name)
                .map(str::to_owned)
                .or_else(|| query.get(name).cloned())
        };
        let token = auth::required(&req, param("access_token").as_deref())?;
        let page_id = auth::page_id(&node).ok_or_else(|| GraphError::UnknownObject {
            method: "post",
            id: node.clone(),
        })?;
        let now = Utc::now();
        let mut state = shared.lock();
        let counted = state
            .facebook
            .usage
            .hit(page_id, now)
            .map_err(GraphError::PageRateLimited)?;
        usage = Some(counted);
        if faults::roll(faults.rate_limit_rate) {
            tracing::info!(
                fault = "rate_limit",
                "facebook upload throttled by injected fault"
            );
            return Err(GraphError::PageRateLimited(counted.throttled()));
        }
        if !token.can_publish {
            return Err(GraphError::PublishPermission);
        }
        if param("published").as_deref() != Some("false") {
            return Err(GraphError::InvalidParameter(
                "The sandbox only takes unpublished photos (published=false) to attach to a post"
                    .to_owned(),
            ));
        }
        let image = form.file("source").cloned().ok_or_else(|| {
            GraphError::InvalidParameter("Requires a photo to upload (source)".to_owned())
        })?;
        if !image.is_image() || image.bytes.is_empty() {
            return Err(GraphError::InvalidParameter(
                "Invalid image: the uploaded file is not an image".to_owned(),
            ));
        }
        if image.bytes.len() > MAX_PHOTO_BYTES {
            return Err(GraphError::InvalidParameter(
                "Invalid image: the photo is larger than 4 MB".to_owned(),
            ));
        }
        let alt_text = param("alt_text_custom").filter(|a| !a.is_empty());
        let id = state.facebook.upload_photo(page_id, image, alt_text, now);
        tracing::info!(photo.id = id, "facebook photo uploaded");
        Ok(HttpResponse::Ok().json(json!({ "id": id.to_string() })))
    })();
    usage::respond(result, usage)
}

/// `attached_media` as sent: one JSON array, or `attached_media[N]` objects in a form.
pub(crate) fn attached_ids(
    params: &std::collections::HashMap<String, String>,
) -> Result<Vec<String>, GraphError> {
    let invalid = || {
        GraphError::InvalidParameter(
            "param attached_media must be an array of objects with a media_fbid".to_owned(),
        )
    };
    let mut items: Vec<Value> = Vec::new();
    if let Some(raw) = params.get("attached_media") {
        match serde_json::from_str::<Value>(raw).map_err(|_| invalid())? {
            Value::Array(array) => items.extend(array),
            _ => return Err(invalid()),
        }
    }
    let mut indexed: Vec<(usize, &String)> = params
        .iter()
        .filter_map(|(k, v)| {
            let index = k.strip_prefix("attached_media[")?.strip_suffix(']')?;
            Some((index.parse().ok()?, v))
        })
        .collect();
    indexed.sort();
    for (_, raw) in indexed {
        items.push(serde_json::from_str(raw).map_err(|_| invalid())?);
    }
    items
        .iter()
        .map(|item| match item.get("media_fbid") {
            Some(Value::String(id)) => Ok(id.clone()),
            Some(Value::Number(id)) => Ok(id.to_string()),
            _ => Err(invalid()),
        })
        .collect()
}

/// The page's unattached photos named by `ids`, marked attached; refused whole otherwise.
pub(crate) fn attach(
    state: &mut SandboxState,
    page_id: u64,
    ids: &[String],
) -> Result<Vec<LedgerMedia>, GraphError> {
    if ids.len() > MAX_ATTACHED {
        return Err(GraphError::InvalidParameter(format!(
            "param attached_media must have at most {MAX_ATTACHED} items"
        )));
    }
    state.facebook.attach_photos(page_id, ids).map_err(|id| {
        GraphError::InvalidParameter(format!(
            "param attached_media: {id} is not an unpublished photo of this page"
        ))
    })
}
