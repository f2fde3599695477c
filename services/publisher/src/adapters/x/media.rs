//! Images: each is uploaded with `POST /2/media/upload` (multipart `media`,
//! `media_category=tweet_image`), its alt text set with `POST /2/media/metadata`, and the
//! tweet attaches the ids. Neither call creates a tweet, so any failure of theirs is
//! retryable (never ambiguous); a retry uploads again.

use super::{Data, problem};
use crate::adapters::util;
use crate::adapters::{Creds, MediaItem, PublishOutcome, Reply};
use serde::Deserialize;

#[derive(Deserialize)]
struct Uploaded {
    id: String,
}

/// The media ids to attach, in order; or why the publish must stop.
pub(super) async fn upload_all(
    http: &reqwest::Client,
    creds: &Creds,
    media: &[MediaItem],
) -> Result<Vec<String>, Reply<PublishOutcome>> {
    let mut ids = Vec::with_capacity(media.len());
    for item in media {
        let id = upload(http, creds, item).await?;
        if let Some(alt) = item.alt_text.as_deref().filter(|a| !a.is_empty()) {
            describe(http, creds, &id, alt).await?;
        }
        ids.push(id);
    }
    Ok(ids)
}

async fn upload(
    http: &reqwest::Client,
    creds: &Creds,
    item: &MediaItem,
) -> Result<String, Reply<PublishOutcome>> {
    let form = reqwest::multipart::Form::new()
        .part("media", util::image_part(item).map_err(Reply::new)?)
        .text("media_category", "tweet_image");
    let sent = http
        .post(format!("{}/2/media/upload", creds.base_url))
        .bearer_auth(creds.access_token.expose())
        .multipart(form)
        .send()
        .await;
    let response = answered(sent).await?;
    response
        .json::<Data<Uploaded>>()
        .await
        .map(|uploaded| uploaded.data.id)
        .map_err(|error| Reply::new(util::upload_transport_outcome(&error)))
}

async fn describe(
    http: &reqwest::Client,
    creds: &Creds,
    id: &str,
    alt_text: &str,
) -> Result<(), Reply<PublishOutcome>> {
    let sent = http
        .post(format!("{}/2/media/metadata", creds.base_url))
        .bearer_auth(creds.access_token.expose())
        .json(&serde_json::json!({
            "id": id,
            "metadata": { "alt_text": { "text": alt_text } },
        }))
        .send()
        .await;
    answered(sent).await.map(|_| ())
}

/// A successful answer, or the classified failure of a media call.
async fn answered(
    sent: Result<reqwest::Response, reqwest::Error>,
) -> Result<reqwest::Response, Reply<PublishOutcome>> {
    let response = sent.map_err(|error| Reply::new(util::upload_transport_outcome(&error)))?;
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let rate = util::rate_limit(response.headers());
    let headers = response.headers().clone();
    let detail = problem(response).await.describe();
    Err(Reply::with_rate(
        util::upload_refused(status, &headers, &detail),
        rate,
    ))
}
