//! Images: each is uploaded unpublished (`POST /{page-id}/photos`, multipart `source`,
//! `published=false`, `alt_text_custom`) and the feed post attaches them with
//! `attached_media=[{"media_fbid": ...}]`. An unpublished photo is not a post, so a failed
//! upload is retryable (never ambiguous); a retry uploads again and the unattached photos of
//! a failed try are left to Graph's own clean-up.

use super::Facebook;
use super::graph::{Created, DEFAULT_THROTTLE, ErrorKind, GraphError, Usage};
use crate::adapters::util::{self, without_url};
use crate::adapters::{Creds, MediaItem, PublishOutcome, Reply};

impl Facebook {
    /// The `attached_media` parameter for the post's photos, `None` without any; or why the
    /// publish must stop.
    pub(super) async fn attached_media(
        &self,
        creds: &Creds,
        media: &[MediaItem],
    ) -> Result<Option<String>, Reply<PublishOutcome>> {
        if media.is_empty() {
            return Ok(None);
        }
        let mut attached = Vec::with_capacity(media.len());
        for item in media {
            let id = self.upload_photo(creds, item).await?;
            attached.push(serde_json::json!({ "media_fbid": id }));
        }
        Ok(Some(serde_json::Value::Array(attached).to_string()))
    }

    async fn upload_photo(
        &self,
        creds: &Creds,
        item: &MediaItem,
    ) -> Result<String, Reply<PublishOutcome>> {
        let mut form = reqwest::multipart::Form::new()
            .part("source", util::image_part(item).map_err(Reply::new)?)
            .text("published", "false");
        if let Some(alt) = item.alt_text.as_deref().filter(|a| !a.is_empty()) {
            form = form.text("alt_text_custom", alt.to_owned());
        }
        let sent = self
            .http
            .post(self.url(
                &creds.base_url,
                &format!("{}/photos", creds.remote_account_id),
            ))
            .bearer_auth(creds.access_token.expose())
            .multipart(form)
            .send()
            .await;
        let response = sent.map_err(|error| Reply::new(util::upload_transport_outcome(&error)))?;
        let status = response.status();
        let usage = Usage::read(response.headers());
        if status.is_success() {
            return response
                .json::<Created>()
                .await
                .map(|created| created.id)
                .map_err(|error| {
                    Reply::with_rate(
                        PublishOutcome::Retryable {
                            reason: format!("unreadable photo upload: {}", without_url(&error)),
                            retry_after: None,
                        },
                        usage.rate(),
                    )
                });
        }
        let error = GraphError::read(response).await;
        let value = match error.kind() {
            ErrorKind::Throttled => {
                return Err(Reply::with_rate(
                    PublishOutcome::Retryable {
                        reason: format!(
                            "photo upload rate limited (Graph error {})",
                            error.code.unwrap_or(0)
                        ),
                        retry_after: Some(usage.regain.unwrap_or(DEFAULT_THROTTLE)),
                    },
                    Some(usage.exhausted()),
                ));
            }
            ErrorKind::Token => PublishOutcome::Terminal {
                reason: "the platform refused the page token: reconnect the page".into(),
            },
            ErrorKind::Permission => PublishOutcome::Terminal {
                reason: format!("the token may not post to this page: {}", error.text()),
            },
            ErrorKind::Temporary => PublishOutcome::Retryable {
                reason: format!("photo upload failed ({status}): {}", error.text()),
                retry_after: None,
            },
            _ if status.is_server_error() || status.as_u16() == 408 => PublishOutcome::Retryable {
                reason: format!("photo upload failed ({status})"),
                retry_after: None,
            },
            _ => PublishOutcome::Terminal {
                reason: format!("the platform refused a photo ({status}): {}", error.text()),
            },
        };
        Err(Reply::with_rate(value, usage.rate()))
    }
}
