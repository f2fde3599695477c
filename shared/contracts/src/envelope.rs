//! The envelope every stream message travels in, and the trait that binds a payload type to its
//! name, version, subject and deterministic id.

use crate::ids::TenantId;
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

/// A payload that travels on a stream.
pub trait Message: Serialize + DeserializeOwned + JsonSchema + Send + Sync + 'static {
    /// Dotted event name, e.g. `post.published`.
    const TYPE: &'static str;
    /// Bumped on a breaking change; consumers accept old and new during a migration window.
    const VERSION: u32;
    /// The subject this message is published on (`<domain>.<event>.<tenant>[.<id>]`).
    fn subject(&self, tenant: TenantId) -> String;
    /// Deterministic business id; also the `Nats-Msg-Id`, so a re-publish is deduplicated.
    fn message_id(&self) -> String;
}

/// `{id, type, version, occurred_at, tenant_id, correlation_id, causation_id, data}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Envelope<T> {
    pub id: String,
    #[serde(rename = "type")]
    pub message_type: String,
    pub version: u32,
    pub occurred_at: DateTime<Utc>,
    pub tenant_id: TenantId,
    /// The request or flow this message belongs to (the gateway's request id, carried along).
    pub correlation_id: String,
    /// The id of the message or request that directly caused this one.
    pub causation_id: Option<String>,
    pub data: T,
}

impl<T: Message> Envelope<T> {
    pub fn new(
        tenant_id: TenantId,
        correlation_id: impl Into<String>,
        causation_id: Option<String>,
        data: T,
    ) -> Self {
        Self {
            id: data.message_id(),
            message_type: T::TYPE.to_owned(),
            version: T::VERSION,
            occurred_at: Utc::now(),
            tenant_id,
            correlation_id: correlation_id.into(),
            causation_id,
            data,
        }
    }

    /// A message caused by this one: same tenant and correlation, causation = this id.
    pub fn caused<U: Message>(&self, data: U) -> Envelope<U> {
        Envelope::new(
            self.tenant_id,
            self.correlation_id.clone(),
            Some(self.id.clone()),
            data,
        )
    }

    pub fn subject(&self) -> String {
        self.data.subject(self.tenant_id)
    }
}
