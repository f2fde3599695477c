//! The Images API: `POST /rest/images?action=initializeUpload` registers an image for an owner
//! and answers `{value: {uploadUrlExpiresAt, uploadUrl, image: "urn:li:image:…"}}`; the bytes
//! are then `PUT` to the upload URL (served here under `/linkedin/dms-uploads/{id}`, bearer
//! token required, 201), which makes the image AVAILABLE. A post references available images
//! of its author in `content.media.id` or `content.multiImage.images[].id`, each with an
//! optional `altText`. The publishing faults apply (latency, outage, throttle) except the
//! dropped answer: nothing here is a post.

use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use chrono::Utc;
use serde_json::{Value, json};

use super::auth;
use super::error::ApiError;
use super::posts::check_author;
use super::version;
use crate::faults;
use crate::ledger::LedgerMedia;
use crate::platform::Platform;
use crate::state::{SandboxState, Shared};
use crate::upload;

const IMAGE_URN: &str = "urn:li:image:";
/// LinkedIn's image limit (36 MP; the sandbox counts bytes) and multi-image bounds.
const MAX_IMAGE_BYTES: usize = 16 * 1024 * 1024;
const MIN_MULTI_IMAGES: usize = 2;
const MAX_MULTI_IMAGES: usize = 20;
/// How long an upload URL stays valid.
const UPLOAD_URL_TTL_MS: i64 = 24 * 3600 * 1000;

/// Faults first, as every publishing endpoint does: latency, then an outage, then (after the
/// token) a throttle.
async fn faulted(shared: &Shared) -> Result<f64, HttpResponse> {
    let faults = faults::delayed(shared, Platform::Linkedin).await;
    if faults::roll(faults.error_rate) {
        tracing::info!(
            fault = "error",
            "linkedin image call failed by injected fault"
        );
        return Err(ApiError::Unavailable.error_response());
    }
    Ok(faults.rate_limit_rate)
}

fn throttled(rate_limit_rate: f64) -> Result<(), ApiError> {
    if faults::roll(rate_limit_rate) {
        tracing::info!(
            fault = "rate_limit",
            "linkedin image call throttled by injected fault"
        );
        return Err(ApiError::RateLimited);
    }
    Ok(())
}

pub(crate) async fn initialize_upload(
    req: HttpRequest,
    query: web::Query<Vec<(String, String)>>,
    body: web::Bytes,
    shared: web::Data<Shared>,
) -> HttpResponse {
    let rate_limit_rate = match faulted(&shared).await {
        Ok(rate) => rate,
        Err(response) => return response,
    };
    let result = (|| {
        let version = version::require(&req, Utc::now())?;
        let member = auth::required(&req)?;
        throttled(rate_limit_rate)?;
        if !query
            .iter()
            .any(|(k, v)| k == "action" && v == "initializeUpload")
        {
            return Err(ApiError::BadRequest(
                "Resource method could not be resolved from request parameters.".to_owned(),
            ));
        }
        if !member.can_write {
            return Err(ApiError::AccessDenied(format!(
                "partnerApiImages.ACTION-initializeUpload.{}",
                version.as_str()
            )));
        }
        let value: Value = serde_json::from_slice(&body).map_err(|_| {
            ApiError::BadRequest("Unable to parse the request body as JSON".to_owned())
        })?;
        let owner = value
            .pointer("/initializeUploadRequest/owner")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                ApiError::validation(
                    "/initializeUploadRequest/owner",
                    "field is required but not found and has no default value",
                )
            })?;
        check_author(&member, owner, "ACTION-initializeUpload", &version)?;
        let now = Utc::now();
        let id = shared.lock().linkedin.register_image(owner, now);
        let origin = {
            let info = req.connection_info();
            format!("{}://{}", info.scheme(), info.host())
        };
        Ok(HttpResponse::Ok().json(json!({
            "value": {
                "uploadUrlExpiresAt": now.timestamp_millis() + UPLOAD_URL_TTL_MS,
                "uploadUrl": format!("{origin}/linkedin/dms-uploads/{id}"),
                "image": format!("{IMAGE_URN}{id}"),
            }
        })))
    })();
    result.unwrap_or_else(|error| error.error_response())
}

pub(crate) async fn put_bytes(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    shared: web::Data<Shared>,
) -> HttpResponse {
    let rate_limit_rate = match faulted(&shared).await {
        Ok(rate) => rate,
        Err(response) => return response,
    };
    let result = (|| {
        auth::required(&req)?;
        throttled(rate_limit_rate)?;
        let image = upload::raw(&req, body);
        if image.bytes.is_empty() {
            return Err(ApiError::BadRequest("The upload is empty".to_owned()));
        }
        if image.bytes.len() > MAX_IMAGE_BYTES {
            return Err(ApiError::BadRequest("The image is too large".to_owned()));
        }
        let uploaded = path
            .parse::<u64>()
            .ok()
            .is_some_and(|id| shared.lock().linkedin.upload_image(id, image));
        if uploaded {
            Ok(HttpResponse::Created().finish())
        } else {
            Err(ApiError::NotFound)
        }
    })();
    result.unwrap_or_else(|error| error.error_response())
}

/// The image URNs a post's `content` references, with their alt texts, in order.
pub(crate) fn referenced(content: &Value) -> Result<Vec<(String, Option<String>)>, ApiError> {
    let entry = |path: &str, image: &Value| -> Result<(String, Option<String>), ApiError> {
        let id = image.get("id").and_then(Value::as_str).ok_or_else(|| {
            ApiError::validation(
                &format!("{path}/id"),
                "field is required but not found and has no default value",
            )
        })?;
        let alt = image
            .get("altText")
            .and_then(Value::as_str)
            .map(str::to_owned);
        Ok((id.to_owned(), alt))
    };
    if let Some(media) = content.get("media") {
        return Ok(vec![entry("/content/media", media)?]);
    }
    if let Some(images) = content.pointer("/multiImage/images") {
        let images = images
            .as_array()
            .ok_or_else(|| ApiError::validation("/content/multiImage/images", "is not an array"))?;
        if !(MIN_MULTI_IMAGES..=MAX_MULTI_IMAGES).contains(&images.len()) {
            return Err(ApiError::validation(
                "/content/multiImage/images",
                format!("size is out of range {MIN_MULTI_IMAGES} to {MAX_MULTI_IMAGES}"),
            ));
        }
        return images
            .iter()
            .enumerate()
            .map(|(i, image)| entry(&format!("/content/multiImage/images/{i}"), image))
            .collect();
    }
    Err(ApiError::validation(
        "/content",
        "only media and multiImage content are supported by the sandbox",
    ))
}

/// Checks the referenced images are the author's and uploaded; describes them for the ledger.
pub(crate) fn resolve(
    state: &SandboxState,
    author: &str,
    images: &[(String, Option<String>)],
) -> Result<Vec<LedgerMedia>, ApiError> {
    images
        .iter()
        .map(|(urn, alt)| {
            urn.strip_prefix(IMAGE_URN)
                .and_then(|id| id.parse::<u64>().ok())
                .and_then(|id| state.linkedin.available_image(id, author))
                .map(|image| image.ledger(alt.clone().filter(|a| !a.is_empty())))
                .ok_or_else(|| {
                    ApiError::validation(
                        "/content",
                        format!("{urn} is not an available image of {author}"),
                    )
                })
        })
        .collect()
}
