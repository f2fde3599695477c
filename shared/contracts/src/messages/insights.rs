//! `INSIGHTS` stream: metric collection rounds. Producer and consumer: insights.

use crate::envelope::Message;
use crate::ids::{PostId, TenantId};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub const COLLECT_FILTER: &str = "insights.collect.>";

/// Collect round `round` of a published post's metrics (round 1 right after publishing; later
/// rounds are scheduled messages).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CollectMetrics {
    pub post_id: PostId,
    pub round: u32,
}

impl Message for CollectMetrics {
    const TYPE: &'static str = "insights.collect";
    const VERSION: u32 = 1;
    fn subject(&self, tenant: TenantId) -> String {
        format!("insights.collect.{tenant}.{}", self.post_id)
    }
    fn message_id(&self) -> String {
        format!("insights.collect:{}:{}", self.post_id, self.round)
    }
}
