//! `POST /2/media/upload` (the simple, one-request upload: multipart `media` +
//! `media_category`) and `POST /2/media/metadata` (alt text). Uploaded media belong to the
//! uploading user; a tweet may attach up to four of them by id. The publishing faults apply
//! (latency, outage, throttle) except the dropped answer: an upload creates no tweet.

use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use chrono::Utc;
use serde_json::{Value, json};

use super::auth::{self, Caller};
use super::error::XError;
use super::rate_limit::{self, MEDIA_UPLOAD, Window};
use crate::faults;
use crate::platform::Platform;
use crate::state::{SandboxState, Shared};
use crate::upload::{self, FormError};

/// X's image limit for the simple upload, alt text limit, and media per tweet.
const MAX_IMAGE_BYTES: usize = 5 * 1024 * 1024;
const MAX_ALT_TEXT_CHARS: usize = 1000;
pub(crate) const MAX_MEDIA_PER_TWEET: usize = 4;
/// Uploaded media expire unused after a day.
const EXPIRES_AFTER_SECS: u64 = 86_400;
const IMAGE_CATEGORIES: [&str; 2] = ["tweet_image", "dm_image"];

/// What every media endpoint does first: faults, then the caller, then the throttle.
async fn enter(req: &HttpRequest, shared: &Shared) -> Result<(Caller, f64), HttpResponse> {
    let faults = faults::delayed(shared, Platform::X).await;
    if faults::roll(faults.error_rate) {
        tracing::info!(fault = "error", "x media call failed by injected fault");
        return Err(XError::Unavailable.error_response());
    }
    let caller = auth::caller(req, Utc::now()).map_err(|e| e.error_response())?;
    Ok((caller, faults.rate_limit_rate))
}

fn throttle(
    state: &mut SandboxState,
    caller: &Caller,
    rate_limit_rate: f64,
) -> Result<Window, XError> {
    let now = Utc::now();
    let user_id = caller.user.id;
    if faults::roll(rate_limit_rate) {
        tracing::info!(
            fault = "rate_limit",
            "x media call throttled by injected fault"
        );
        let window = state
            .x
            .rate
            .peek(user_id, MEDIA_UPLOAD, now)
            .exhausted_until(now.timestamp() + 2);
        return Err(XError::RateLimited(window));
    }
    state
        .x
        .rate
        .hit(user_id, MEDIA_UPLOAD, now)
        .map_err(XError::RateLimited)
}

pub(crate) async fn upload(
    req: HttpRequest,
    body: web::Bytes,
    shared: web::Data<Shared>,
) -> HttpResponse {
    let (caller, rate_limit_rate) = match enter(&req, &shared).await {
        Ok(entered) => entered,
        Err(response) => return response,
    };
    let form = upload::form(&req, body).await;
    let mut state = shared.lock();
    let window = match throttle(&mut state, &caller, rate_limit_rate) {
        Ok(window) => window,
        Err(error) => return error.error_response(),
    };
    let result = form
        .map_err(|error| match error {
            FormError::NotMultipart => {
                XError::invalid("The request must be multipart/form-data with a `media` part.")
            }
            FormError::Malformed(_) => XError::invalid("The multipart body could not be parsed."),
        })
        .and_then(|form| {
            let image = form
                .file("media")
                .cloned()
                .ok_or_else(|| XError::invalid("$.media: required field is missing"))?;
            let category = form.field("media_category").unwrap_or("tweet_image");
            if !IMAGE_CATEGORIES.contains(&category) {
                return Err(XError::invalid(format!(
                    "$.media_category: unsupported value {category}"
                )));
            }
            if !image.is_image() {
                return Err(XError::invalid(
                    "$.media: the media type is not a supported image type",
                ));
            }
            if image.bytes.len() > MAX_IMAGE_BYTES {
                return Err(XError::invalid("$.media: File size exceeds 5242880 bytes."));
            }
            let size = image.bytes.len();
            let content_type = image.content_type.clone();
            let id = state.x.upload(caller.user.id, image, Utc::now());
            tracing::info!(
                x.user_id = caller.user.id,
                x.media_id = id,
                "x media uploaded"
            );
            Ok(HttpResponse::Ok().json(json!({
                "data": {
                    "id": id.to_string(),
                    "media_key": format!("3_{id}"),
                    "size": size,
                    "expires_after_secs": EXPIRES_AFTER_SECS,
                    "image": { "image_type": content_type },
                }
            })))
        });
    rate_limit::respond(result, Some(window))
}

pub(crate) async fn metadata(
    req: HttpRequest,
    body: web::Bytes,
    shared: web::Data<Shared>,
) -> HttpResponse {
    let (caller, rate_limit_rate) = match enter(&req, &shared).await {
        Ok(entered) => entered,
        Err(response) => return response,
    };
    let mut state = shared.lock();
    let window = match throttle(&mut state, &caller, rate_limit_rate) {
        Ok(window) => window,
        Err(error) => return error.error_response(),
    };
    let result = parse_metadata(&body).and_then(|(id, text)| {
        let known = id
            .parse::<u64>()
            .ok()
            .filter(|&m| state.x.media_owner(m) == Some(caller.user.id));
        let Some(media_id) = known else {
            return Err(XError::invalid(format!("$.id: media {id} not found")));
        };
        state.x.describe(media_id, text.clone());
        Ok(HttpResponse::Ok().json(json!({
            "data": {
                "id": id,
                "associated_metadata": { "alt_text": { "text": text } },
            }
        })))
    });
    rate_limit::respond(result, Some(window))
}

/// `{"id": "<media id>", "metadata": {"alt_text": {"text": "..."}}}`.
fn parse_metadata(body: &[u8]) -> Result<(String, String), XError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| XError::invalid("Request body is not valid JSON."))?;
    let id = value
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| XError::invalid("$.id: required field is missing"))?
        .to_owned();
    let text = value
        .pointer("/metadata/alt_text/text")
        .and_then(Value::as_str)
        .ok_or_else(|| XError::invalid("$.metadata.alt_text.text: required field is missing"))?
        .to_owned();
    if text.chars().count() > MAX_ALT_TEXT_CHARS {
        return Err(XError::invalid(
            "$.metadata.alt_text.text: must be at most 1000 characters",
        ));
    }
    Ok((id, text))
}
