//! `RENDERS` stream: render requests and results. Producer: renderer.

use crate::design::Design;
use crate::envelope::Message;
use crate::ids::{RenderId, TenantId};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub const REQUESTED_FILTER: &str = "renders.requested.>";

/// A design to turn into an image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RenderRequested {
    pub render_id: RenderId,
    pub design: Design,
}

impl Message for RenderRequested {
    const TYPE: &'static str = "render.requested";
    const VERSION: u32 = 1;
    fn subject(&self, tenant: TenantId) -> String {
        format!("renders.requested.{tenant}.{}", self.render_id)
    }
    fn message_id(&self) -> String {
        format!("render.requested:{}", self.render_id)
    }
}

/// The image is in object storage under `object_key` (content-addressed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RenderCompleted {
    pub render_id: RenderId,
    pub object_key: String,
    /// Hex SHA-256 of the PNG bytes.
    pub content_hash: String,
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
}

impl Message for RenderCompleted {
    const TYPE: &'static str = "render.completed";
    const VERSION: u32 = 1;
    fn subject(&self, tenant: TenantId) -> String {
        format!("renders.completed.{tenant}.{}", self.render_id)
    }
    fn message_id(&self) -> String {
        format!("render.completed:{}", self.render_id)
    }
}

/// The design could not be rendered; `reason` is safe to show to the tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RenderFailed {
    pub render_id: RenderId,
    pub reason: String,
}

impl Message for RenderFailed {
    const TYPE: &'static str = "render.failed";
    const VERSION: u32 = 1;
    fn subject(&self, tenant: TenantId) -> String {
        format!("renders.failed.{tenant}.{}", self.render_id)
    }
    fn message_id(&self) -> String {
        format!("render.failed:{}", self.render_id)
    }
}
