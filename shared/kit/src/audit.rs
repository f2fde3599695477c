//! Recording an audit event in the transaction of the action it describes: the event goes into
//! the service's outbox with the state change, so it is published (to the append-only `AUDIT`
//! stream) exactly when the action commits, and never for an action that rolled back.
//!
//! ```ignore
//! conn.transaction(async |conn| {
//!     change_the_role(conn, tenant, user, role).await?;
//!     audit::record(conn, tenant, AuditEvent::new(actions::ROLE_CHANGED, actor, Outcome::Success, &ctx.request_id)
//!         .target("user", user)).await
//! }).await?;
//! outbox_waker.wake();
//! ```

use crate::outbox::{self, Outgoing};
use diesel::QueryResult;
use diesel_async::AsyncPgConnection;
use herald_contracts::messages::audit::{AuditEvent, valid_action};
use herald_contracts::{Envelope, TenantId};

/// The outbox row for `event` in `tenant`. An action name that is not subject-safe is a bug in
/// the caller; it is refused here rather than published on a subject nobody filters.
pub fn outgoing(tenant: TenantId, event: AuditEvent) -> QueryResult<Outgoing> {
    if !valid_action(&event.action) {
        return Err(diesel::result::Error::QueryBuilderError(
            format!(
                "audit action {:?} is not a dotted lowercase name",
                event.action
            )
            .into(),
        ));
    }
    let correlation = event.request_id.clone();
    let envelope = Envelope::new(tenant, correlation, None, event);
    Ok(Outgoing::message(&envelope))
}

/// Writes `event` into the outbox in the caller's transaction; wake the relay after commit.
pub async fn record(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    event: AuditEvent,
) -> QueryResult<()> {
    outbox::enqueue(conn, &[outgoing(tenant, event)?]).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_contracts::UserId;
    use herald_contracts::messages::audit::{Actor, Outcome, actions};

    #[test]
    fn audit_events_go_to_the_tenant_subject() {
        let tenant = TenantId::new();
        let event = AuditEvent::new(
            actions::LOGIN_SUCCEEDED,
            Actor::User { id: UserId::new() },
            Outcome::Success,
            "req-9",
        );
        let id = event.event_id;
        let row = outgoing(tenant, event).unwrap();
        assert_eq!(row.subject, format!("audit.{tenant}.auth.login_succeeded"));
        assert_eq!(row.message_id, format!("audit:{id}"));
        let envelope: serde_json::Value = serde_json::from_slice(&row.payload).unwrap();
        assert_eq!(envelope["correlation_id"], "req-9");
        assert_eq!(envelope["tenant_id"], tenant.to_string());
    }

    #[test]
    fn refuses_an_action_that_is_not_subject_safe() {
        let event = AuditEvent::new(
            "auth.*",
            Actor::System {
                service: "auth".into(),
            },
            Outcome::Success,
            "req",
        );
        assert!(outgoing(TenantId::new(), event).is_err());
    }
}
