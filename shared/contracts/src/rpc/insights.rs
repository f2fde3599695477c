//! insights: how posts performed.

use super::rpc;
use crate::ids::{AccountId, PostId};
use crate::messages::Platform;
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetPostMetricsRequest {
    pub post_id: PostId,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MetricSampleView {
    pub account_id: AccountId,
    pub platform: Platform,
    pub remote_id: String,
    pub collected_at: DateTime<Utc>,
    pub likes: i64,
    pub reposts: i64,
    pub replies: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PostMetrics {
    pub post_id: PostId,
    pub samples: Vec<MetricSampleView>,
}

rpc!(
    /// Metric samples collected for a post.
    GetPostMetrics, "insights", "posts.metrics", true, GetPostMetricsRequest, PostMetrics
);
