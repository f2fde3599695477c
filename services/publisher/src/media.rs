//! Images attached to posts: renders of the tenant's own, checked when attached and read by
//! content hash when published.
//!
//! A post holds each image's render id and content hash (`MediaView`). At publish time the
//! bytes come from the renderer (`rpc.renderer.assets.get`) for the platforms that take an
//! upload, and the platforms that fetch a URL themselves (Instagram, Threads) get the public
//! media origin's URL of the same hash (`HERALD_PUBLISHER_MEDIA_BASE_URL`, the gateway's
//! `/media` in a local fleet, a CDN in front of the object store in production).

use crate::adapters::MediaItem;
use base64::Engine;
use herald_contracts::messages::Platform;
use herald_contracts::rpc::publisher::{MediaAttachment, MediaView};
use herald_contracts::rpc::renderer::{
    GetAsset, GetAssetRequest, GetRender, GetRenderRequest, RenderStatus,
};
use herald_contracts::rpc::{ErrorCode, RpcError};
use herald_kit::RpcCtx;
use herald_kit::futures::future::try_join_all;
use std::time::Duration;

pub const MAX_IMAGES: usize = 4;
pub const MAX_ALT_CHARS: usize = 1000;

#[derive(Debug, Clone)]
pub struct MediaConfig {
    /// Where the public media origin serves `<content_hash>.png` (no trailing slash).
    pub public_base: Option<String>,
    /// How long a call to the renderer may take.
    pub timeout: Duration,
}

impl MediaConfig {
    pub fn public_url(&self, content_hash: &str) -> Option<String> {
        self.public_base
            .as_ref()
            .map(|base| format!("{base}/{content_hash}.png"))
    }
}

/// Checks each attachment with the renderer as the caller (so only the caller's tenant's
/// completed renders can be attached) and returns what the post stores.
pub async fn resolve(
    nats: &herald_kit::async_nats::Client,
    config: &MediaConfig,
    ctx: &RpcCtx,
    attachments: &[MediaAttachment],
) -> Result<Vec<MediaView>, RpcError> {
    if attachments.len() > MAX_IMAGES {
        return Err(RpcError::invalid(format!(
            "media: at most {MAX_IMAGES} images"
        )));
    }
    let mut views = Vec::with_capacity(attachments.len());
    for (i, attachment) in attachments.iter().enumerate() {
        let alt_text = attachment
            .alt_text
            .as_deref()
            .map(str::trim)
            .filter(|alt| !alt.is_empty());
        if alt_text.is_some_and(|alt| alt.chars().count() > MAX_ALT_CHARS) {
            return Err(RpcError::invalid(format!(
                "media[{i}].alt_text: at most {MAX_ALT_CHARS} characters"
            )));
        }
        let render = herald_kit::rpc::call::<GetRender>(
            nats,
            &ctx.request_id,
            ctx.identity.clone(),
            GetRenderRequest {
                render_id: attachment.render_id,
            },
            config.timeout,
        )
        .await
        .map_err(|error| match error.code {
            ErrorCode::NotFound => RpcError::not_found(format!("media[{i}]: render not found")),
            _ => error,
        })?;
        let content_hash = match (render.status, render.content_hash) {
            (RenderStatus::Completed, Some(hash)) => hash,
            (RenderStatus::Failed, _) => {
                return Err(RpcError::invalid(format!(
                    "media[{i}]: the render failed and has no image"
                )));
            }
            _ => {
                return Err(RpcError::new(
                    ErrorCode::Conflict,
                    format!("media[{i}]: the render is not completed yet"),
                ));
            }
        };
        views.push(MediaView {
            render_id: attachment.render_id,
            alt_text: alt_text.map(str::to_owned),
            content_hash,
        });
    }
    Ok(views)
}

/// What each platform takes: Instagram posts need exactly one image, Threads at most one, and
/// both fetch it from the public media origin, which must then be configured.
pub fn check_platforms(
    config: &MediaConfig,
    media: &[MediaView],
    platforms: &[Platform],
) -> Result<(), String> {
    for platform in platforms {
        match platform {
            Platform::Instagram if media.len() != 1 => {
                return Err(format!(
                    "media: an Instagram post needs exactly one image ({} attached)",
                    media.len()
                ));
            }
            Platform::Threads if media.len() > 1 => {
                return Err("media: a Threads post takes at most one image".into());
            }
            _ => {}
        }
        if matches!(platform, Platform::Instagram | Platform::Threads)
            && !media.is_empty()
            && config.public_base.is_none()
        {
            return Err(format!(
                "media: {platform} fetches images from a public URL and none is configured \
                 (HERALD_PUBLISHER_MEDIA_BASE_URL)"
            ));
        }
    }
    Ok(())
}

/// The bytes of every attached image, read from the renderer by content hash.
pub async fn load(
    nats: &herald_kit::async_nats::Client,
    config: &MediaConfig,
    request_id: &str,
    media: &[MediaView],
) -> Result<Vec<MediaItem>, String> {
    try_join_all(media.iter().map(|view| async move {
        let content = herald_kit::rpc::call::<GetAsset>(
            nats,
            request_id,
            None,
            GetAssetRequest {
                content_hash: view.content_hash.clone(),
            },
            config.timeout,
        )
        .await
        .map_err(|error| format!("the attached image could not be read: {}", error.message))?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(content.data_base64.as_bytes())
            .map_err(|_| "the renderer sent undecodable image data".to_owned())?;
        Ok::<_, String>(MediaItem {
            bytes: bytes.into(),
            content_type: content.content_type,
            alt_text: view.alt_text.clone(),
            public_url: config.public_url(&view.content_hash),
            content_hash: view.content_hash.clone(),
        })
    }))
    .await
}
