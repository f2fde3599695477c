//! Images API: each image is registered with `POST /rest/images?action=initializeUpload`
//! (owner = the post's author), its bytes `PUT` to the returned `uploadUrl`, and the post
//! references the `urn:li:image:…` URNs — `content.media` for one image, `content.multiImage`
//! for several — with their alt text. Nothing here creates a post, so every failure is
//! retryable or terminal, never ambiguous.

use super::Linkedin;
use super::wire::ErrorBody;
use crate::adapters::util::{self, without_url};
use crate::adapters::{Creds, MediaItem, PublishOutcome, Reply};
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
struct Initialized {
    value: UploadTicket,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UploadTicket {
    upload_url: String,
    image: String,
}

impl Linkedin {
    /// The post's `content` for its images, `None` without any; or why the publish must stop.
    pub(super) async fn image_content(
        &self,
        creds: &Creds,
        media: &[MediaItem],
    ) -> Result<Option<Value>, Reply<PublishOutcome>> {
        let mut images = Vec::with_capacity(media.len());
        for item in media {
            let urn = self.upload_image(creds, item).await?;
            let mut image = json!({ "id": urn });
            if let Some(alt) = item.alt_text.as_deref().filter(|a| !a.is_empty()) {
                image["altText"] = json!(alt);
            }
            images.push(image);
        }
        Ok(match images.len() {
            0 => None,
            1 => images.pop().map(|image| json!({ "media": image })),
            _ => Some(json!({ "multiImage": { "images": images } })),
        })
    }

    async fn upload_image(
        &self,
        creds: &Creds,
        item: &MediaItem,
    ) -> Result<String, Reply<PublishOutcome>> {
        let sent = self
            .rest(
                self.http.post(format!(
                    "{}/rest/images?action=initializeUpload",
                    creds.base_url
                )),
                &creds.access_token,
            )
            .json(&json!({ "initializeUploadRequest": { "owner": creds.remote_account_id } }))
            .send()
            .await;
        let response = self.answered(sent).await?;
        let ticket = response
            .json::<Initialized>()
            .await
            .map_err(|error| {
                Reply::new(PublishOutcome::Retryable {
                    reason: format!("unreadable upload registration: {}", without_url(&error)),
                    retry_after: None,
                })
            })?
            .value;
        let sent = self
            .http
            .put(&ticket.upload_url)
            .bearer_auth(creds.access_token.expose())
            .header(reqwest::header::CONTENT_TYPE, &item.content_type)
            .body(item.bytes.clone())
            .send()
            .await;
        self.answered(sent).await?;
        Ok(ticket.image)
    }

    /// A successful answer, or the classified failure of an upload step.
    async fn answered(
        &self,
        sent: Result<reqwest::Response, reqwest::Error>,
    ) -> Result<reqwest::Response, Reply<PublishOutcome>> {
        let response = sent.map_err(|error| Reply::new(util::upload_transport_outcome(&error)))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let headers = response.headers().clone();
        let body = ErrorBody::read(response).await;
        let value = if body.is_version_problem() {
            PublishOutcome::Terminal {
                reason: self.version_problem(),
            }
        } else if status == StatusCode::TOO_MANY_REQUESTS {
            PublishOutcome::Retryable {
                reason: "image upload rate limited (429)".into(),
                retry_after: util::retry_after(&headers),
            }
        } else {
            util::upload_refused(status, &headers, &body.text())
        };
        Err(Reply::new(value))
    }
}
