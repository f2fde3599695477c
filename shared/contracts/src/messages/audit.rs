//! `AUDIT` stream: privileged actions, one event each, on `audit.<tenant>.<action>`. The stream
//! denies delete and purge; auth stores every event for `GET /v1/audit`. Producers: any service,
//! through its outbox in the transaction of the action (`herald_kit::audit`).

use crate::envelope::Message;
use crate::ids::{TenantId, UserId};
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Every audit subject.
pub const AUDIT_FILTER: &str = "audit.>";

/// Action names: `<domain>.<verb>`, lowercase, so `audit.<tenant>.<action>` filters by domain.
pub mod actions {
    // Identity and access (auth).
    /// A member's role changed (target: the member; reason: `<old> -> <new>`).
    pub const MEMBER_ROLE_CHANGED: &str = "member.role_changed";
    /// A member was removed from the tenant (target: the member).
    pub const MEMBER_REMOVED: &str = "member.removed";
    /// An invitation was sent (target: the invitation; reason: the role).
    pub const INVITATION_CREATED: &str = "invitation.created";
    /// An invitation was accepted (actor: the new member; target: the invitation).
    pub const INVITATION_ACCEPTED: &str = "invitation.accepted";
    /// A pending invitation was revoked (target: the invitation).
    pub const INVITATION_REVOKED: &str = "invitation.revoked";
    /// A password was set through a reset link; every session of the user ended.
    pub const PASSWORD_RESET: &str = "password.reset";
    /// A signed-in user changed their password; every other session ended.
    pub const PASSWORD_CHANGED: &str = "password.changed";
    /// A refresh-token family was revoked: a rotated token was presented again, or its user
    /// left the tenant (target: the session; reason says which).
    pub const TOKEN_FAMILY_REVOKED: &str = "auth.token_family_revoked";
    /// "Log out everywhere": every session of the user ended.
    pub const LOGGED_OUT_EVERYWHERE: &str = "auth.logged_out_everywhere";
    pub const LOGIN_SUCCEEDED: &str = "auth.login_succeeded";
    pub const LOGIN_FAILED: &str = "auth.login_failed";
    pub const LOGIN_LOCKED_OUT: &str = "auth.login_locked_out";
    pub const ACCOUNT_CONNECTED: &str = "account.connected";
    pub const ACCOUNT_DISCONNECTED: &str = "account.disconnected";
    /// An API key was created (actor: the user; target: the key id; never the secret).
    pub const API_KEY_CREATED: &str = "api_key.created";
    /// An API key was revoked, by a user or because its creator left the tenant.
    pub const API_KEY_REVOKED: &str = "api_key.revoked";
    /// A GDPR export finished: success with the archive ready, or failure (a service could not
    /// deliver its part). Actor: the user who asked; target: the export.
    pub const PRIVACY_EXPORTED: &str = "privacy.exported";
    /// `DELETE /v1/me` or `DELETE /v1/tenant` accepted (actor: the user; target: the erasure).
    pub const ERASURE_REQUESTED: &str = "privacy.erasure_requested";
    /// Every service confirmed every part of an erasure (actor: auth).
    pub const ERASURE_COMPLETED: &str = "privacy.erasure_completed";
}

/// Whether `action` is a well-formed action name: dotted lowercase words (`a-z`, `0-9`, `_`),
/// at most 64 characters, so it is a safe run of subject tokens.
pub fn valid_action(action: &str) -> bool {
    !action.is_empty()
        && action.len() <= 64
        && action.split('.').all(|word| {
            !word.is_empty()
                && word
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        })
}

/// Who did it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Actor {
    /// A logged-in user (or one proving who they are, for login events).
    User { id: UserId },
    /// An integrator's API key, by its public id (never the secret).
    ApiKey { id: String },
    /// A service acting on its own (sweeps, erasure).
    System { service: String },
}

impl Actor {
    /// `user`, `api_key` or `system`.
    pub fn kind(&self) -> &'static str {
        match self {
            Actor::User { .. } => "user",
            Actor::ApiKey { .. } => "api_key",
            Actor::System { .. } => "system",
        }
    }

    /// The user id, the key id or the service name.
    pub fn id(&self) -> String {
        match self {
            Actor::User { id } => id.to_string(),
            Actor::ApiKey { id } => id.clone(),
            Actor::System { service } => service.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    Failure,
    /// Refused before it was attempted (a lockout, a missing right).
    Denied,
}

impl Outcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Denied => "denied",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "success" => Some(Outcome::Success),
            "failure" => Some(Outcome::Failure),
            "denied" => Some(Outcome::Denied),
            _ => None,
        }
    }
}

/// What the action was done to, e.g. `{"type": "user", "id": "…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Target {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
}

/// One privileged action. The tenant is the envelope's; the request id is the envelope's
/// `correlation_id` and is repeated here so a stored event is complete on its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditEvent {
    /// UUIDv7, unique per event; the message id is `audit:<event_id>`.
    pub event_id: uuid::Uuid,
    pub action: String,
    pub actor: Actor,
    pub target: Option<Target>,
    pub outcome: Outcome,
    pub client_ip: Option<String>,
    pub request_id: String,
    pub occurred_at: DateTime<Utc>,
    /// A short reason for a failure or denial, safe to show to the tenant's admins.
    pub reason: Option<String>,
}

impl AuditEvent {
    pub fn new(action: &str, actor: Actor, outcome: Outcome, request_id: &str) -> Self {
        Self {
            event_id: uuid::Uuid::now_v7(),
            action: action.to_owned(),
            actor,
            target: None,
            outcome,
            client_ip: None,
            request_id: request_id.to_owned(),
            occurred_at: Utc::now(),
            reason: None,
        }
    }

    pub fn target(mut self, kind: &str, id: impl ToString) -> Self {
        self.target = Some(Target {
            kind: kind.to_owned(),
            id: id.to_string(),
        });
        self
    }

    pub fn client_ip(mut self, ip: Option<String>) -> Self {
        self.client_ip = ip;
        self
    }

    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }
}

impl Message for AuditEvent {
    const TYPE: &'static str = "audit.event";
    const VERSION: u32 = 1;
    fn subject(&self, tenant: TenantId) -> String {
        format!("audit.{tenant}.{}", self.action)
    }
    fn message_id(&self) -> String {
        format!("audit:{}", self.event_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_are_subject_safe() {
        for action in [
            actions::LOGIN_SUCCEEDED,
            actions::LOGIN_FAILED,
            actions::LOGIN_LOCKED_OUT,
            actions::ACCOUNT_CONNECTED,
            actions::ACCOUNT_DISCONNECTED,
            actions::MEMBER_ROLE_CHANGED,
            actions::MEMBER_REMOVED,
            actions::INVITATION_CREATED,
            actions::INVITATION_ACCEPTED,
            actions::INVITATION_REVOKED,
            actions::PASSWORD_RESET,
            actions::PASSWORD_CHANGED,
            actions::TOKEN_FAMILY_REVOKED,
            actions::LOGGED_OUT_EVERYWHERE,
            actions::API_KEY_CREATED,
            actions::API_KEY_REVOKED,
            actions::ERASURE_REQUESTED,
            actions::ERASURE_COMPLETED,
        ] {
            assert!(valid_action(action), "{action}");
        }
        for bad in [
            "",
            "auth.",
            "Auth.login",
            "auth.*",
            "auth.>",
            "a b",
            "auth..x",
        ] {
            assert!(!valid_action(bad), "{bad}");
        }
    }

    #[test]
    fn subject_and_id() {
        let tenant = TenantId::new();
        let event = AuditEvent::new(
            actions::LOGIN_FAILED,
            Actor::User { id: UserId::new() },
            Outcome::Failure,
            "req-1",
        );
        assert_eq!(
            event.subject(tenant),
            format!("audit.{tenant}.auth.login_failed")
        );
        assert_eq!(event.message_id(), format!("audit:{}", event.event_id));
    }
}
