//! renderer: render jobs and their images.

use super::rpc;
use crate::design::Design;
use crate::ids::RenderId;
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRenderRequest {
    pub design: Design,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetRenderRequest {
    pub render_id: RenderId,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RenderStatus {
    Pending,
    Completed,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RenderView {
    pub id: RenderId,
    pub status: RenderStatus,
    pub width: u32,
    pub height: u32,
    pub content_hash: Option<String>,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RenderContent {
    pub content_type: String,
    /// Standard base64 of the image bytes.
    pub data_base64: String,
}

/// Whether `value` is a content hash as renders carry it: SHA-256, 64 lowercase hex digits.
pub fn is_content_hash(value: &str) -> bool {
    value.len() == 64
        && value
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A rendered image by its content address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetAssetRequest {
    /// SHA-256 of the image bytes, lowercase hex (a render's `content_hash`).
    pub content_hash: String,
}

rpc!(
    /// Validate a design and queue it for rendering.
    CreateRender, "renderer", "renders.create", true, CreateRenderRequest, RenderView
);
rpc!(
    /// Read a render job.
    GetRender, "renderer", "renders.get", true, GetRenderRequest, RenderView
);
rpc!(
    /// Read a completed render's image.
    GetRenderContent, "renderer", "renders.content", true, GetRenderRequest, RenderContent
);
rpc!(
    /// Read a rendered image by its content hash: the public media origin (platforms that
    /// fetch a URL) and the publisher's uploads. The hash is the capability: it is only known
    /// to whoever has the render.
    GetAsset, "renderer", "assets.get", false, GetAssetRequest, RenderContent
);
