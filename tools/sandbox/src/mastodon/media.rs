//! `POST /api/v2/media`: a multipart upload (`file`, optional `description`) that answers with
//! a MediaAttachment. Images are processed at once (200 with a URL), as Mastodon does for
//! small images; the 202 "still processing" path is for video and not modelled. The
//! publishing faults apply (latency, outage, throttle) — a dropped answer is not injected
//! here, since an upload creates nothing visible and the drop is about posts.

use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use chrono::Utc;
use serde::Serialize;

use super::auth;
use super::entities;
use super::error::ApiError;
use super::rate_limit::{self, STATUSES};
use super::store::Media;
use crate::faults;
use crate::platform::Platform;
use crate::state::Shared;
use crate::upload::{self, FormError};

/// Mastodon's default limits: 16 MB images, 1,500-character descriptions.
const MAX_IMAGE_BYTES: usize = 16 * 1024 * 1024;
const MAX_DESCRIPTION_CHARS: usize = 1500;

#[derive(Debug, Serialize)]
pub(crate) struct MediaJson {
    pub(crate) id: String,
    pub(crate) r#type: &'static str,
    pub(crate) url: Option<String>,
    pub(crate) preview_url: Option<String>,
    pub(crate) remote_url: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) blurhash: Option<String>,
}

pub(crate) fn media_json(media: &Media, origin: &str) -> MediaJson {
    let path = format!("{origin}/system/media_attachments/files/{}", media.id);
    MediaJson {
        id: media.id.to_string(),
        r#type: "image",
        url: Some(format!("{path}/original/{}", media.image.sha256())),
        preview_url: Some(format!("{path}/small/{}", media.image.sha256())),
        remote_url: None,
        description: media.description.clone(),
        blurhash: None,
    }
}

pub(crate) async fn create(
    req: HttpRequest,
    body: web::Bytes,
    shared: web::Data<Shared>,
) -> HttpResponse {
    let faults = faults::delayed(&shared, Platform::Mastodon).await;
    if faults::roll(faults.error_rate) {
        tracing::info!(
            fault = "error",
            "mastodon media upload failed by injected fault"
        );
        return ApiError::Unavailable.error_response();
    }
    let account = match auth::required(&req) {
        Ok(account) => account,
        Err(error) => return error.error_response(),
    };
    let form = upload::form(&req, body).await;
    let origin = entities::origin(&req);
    let now = Utc::now();
    let mut state = shared.lock();
    let window = match state.mastodon.enter(&account, now) {
        Ok(window) => window,
        Err(error) => return error.error_response(),
    };
    if faults::roll(faults.rate_limit_rate) {
        tracing::info!(
            fault = "rate_limit",
            "mastodon upload throttled by injected fault"
        );
        let window = state.mastodon.rate.peek(account.id, STATUSES, now);
        return ApiError::RateLimited(window.exhausted_until(now + chrono::Duration::seconds(2)))
            .error_response();
    }
    let result = form
        .map_err(|error| match error {
            // Rails answers a body it cannot parse before the controller runs.
            FormError::Malformed(_) => {
                ApiError::BadRequest("Error occurred while parsing request parameters".into())
            }
            FormError::NotMultipart => ApiError::validation("File can't be blank"),
        })
        .and_then(|form| {
            let image = form
                .file("file")
                .cloned()
                .ok_or_else(|| ApiError::validation("File can't be blank"))?;
            if !image.is_image() {
                return Err(ApiError::validation(
                    "File content type is invalid, File file type is not supported",
                ));
            }
            if image.bytes.len() > MAX_IMAGE_BYTES {
                return Err(ApiError::validation(
                    "File file size must be less than 16 MB",
                ));
            }
            let description = form
                .field("description")
                .map(str::to_owned)
                .filter(|d| !d.is_empty());
            if description
                .as_ref()
                .is_some_and(|d| d.chars().count() > MAX_DESCRIPTION_CHARS)
            {
                return Err(ApiError::validation(
                    "Description is too long (maximum is 1500 characters)",
                ));
            }
            let media = state.mastodon.upload(&account, image, description, now);
            tracing::info!(
                account.id = account.id,
                media.id = media.id,
                "mastodon media uploaded"
            );
            Ok(HttpResponse::Ok().json(media_json(&media, &origin)))
        });
    rate_limit::respond(result, Some(window))
}
