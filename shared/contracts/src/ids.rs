//! Identifier newtypes. They are constructed by generating or parsing, never from raw strings
//! passed around, so a `PostId` can't be handed where a `TenantId` is expected.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{kind} must be a UUID, got {value:?}")]
pub struct IdParseError {
    pub kind: &'static str,
    pub value: String,
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
        )]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new, time-ordered id (UUIDv7), so inserts stay index-friendly.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
            pub fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
            pub fn parse(value: &str) -> Result<Self, IdParseError> {
                Uuid::parse_str(value).map(Self).map_err(|_| IdParseError {
                    kind: $kind,
                    value: value.chars().take(64).collect(),
                })
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = IdParseError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
    };
}

id_type!(
    /// A tenant: an agency or brand, the unit of isolation.
    TenantId,
    "tenant id"
);
id_type!(
    /// A person who can log in; belongs to tenants through memberships.
    UserId,
    "user id"
);
id_type!(
    /// A post: text (and media) scheduled to one or more connected accounts.
    PostId,
    "post id"
);
id_type!(
    /// A connected social account.
    AccountId,
    "account id"
);
id_type!(
    /// A render job of a design.
    RenderId,
    "render id"
);
