//! auth's domain types: parsed at the edge, so handlers and queries never see raw strings.
//! Each `parse` returns a message that is safe and precise enough to show to the client.

pub mod email;
pub mod password;
pub mod tenant_name;

pub use email::Email;
pub use password::Password;
pub use tenant_name::TenantName;

/// Why an input was refused; the message names the field and the rule it broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);

impl ParseError {
    fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}
