//! billing: usage.

use super::rpc;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetUsageRequest {}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UsageItem {
    /// e.g. `published_targets`.
    pub metric: String,
    pub quantity: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UsageView {
    pub items: Vec<UsageItem>,
}

rpc!(
    /// The tenant's metered usage.
    GetUsage, "billing", "usage.get", true, GetUsageRequest, UsageView
);
