//! Every privileged session and membership action leaves an audit event in its tenant:
//! a token family revoked by reuse, a password change, logging out everywhere, a member
//! removed. (Logins, failures and lockouts: `audit.rs`; API keys: `api_keys.rs`; roles and
//! invitations: `identity.rs`; export: `exports.rs`; erasure: `erasure.rs`.)

// Helpers outside #[test] functions unwrap too; clippy.toml only covers the latter.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::api_keys::add_member;
use crate::helpers::{PASSWORD, TestAuth, identity_of};
use herald_contracts::messages::audit::{Actor, actions};
use herald_contracts::rpc::audit::{AuditEntry, ListAudit, ListAuditRequest};
use herald_contracts::rpc::auth::{
    ChangePassword, ChangePasswordRequest, LogoutAll, NoParams, RemoveMember, RemoveMemberRequest,
};
use herald_contracts::rpc::{Identity, Role};
use herald_testkit::wait_for;
use std::time::Duration;

async fn events(auth: &TestAuth, owner: &Identity) -> Vec<AuditEntry> {
    auth.call::<ListAudit>(
        Some(owner.clone()),
        ListAuditRequest {
            limit: Some(200),
            ..ListAuditRequest::default()
        },
    )
    .await
    .unwrap()
    .events
}

#[tokio::test]
async fn session_and_membership_actions_are_audited() {
    let auth = TestAuth::start().await.unwrap();
    let acme = auth
        .register("Acme", "ada@example.com", PASSWORD)
        .await
        .unwrap();

    // A rotated refresh token presented again revokes its family.
    let first = auth.login("ada@example.com", PASSWORD).await.unwrap();
    auth.refresh(&first.refresh_token).await.unwrap();
    auth.refresh(&first.refresh_token).await.unwrap_err();

    let session = auth.login("ada@example.com", PASSWORD).await.unwrap();
    let owner = identity_of(&session.access_token);
    assert_eq!(owner.tenant_id, acme.tenant_id);
    let changed = auth
        .call::<ChangePassword>(
            Some(owner.clone()),
            ChangePasswordRequest {
                current_password: PASSWORD.into(),
                new_password: "a different long passphrase".into(),
            },
        )
        .await
        .unwrap();
    auth.call::<LogoutAll>(Some(identity_of(&changed.access_token)), NoParams {})
        .await
        .unwrap();
    let member = add_member(&auth, acme.tenant_id, Role::Editor).await;
    auth.call::<RemoveMember>(
        Some(owner.clone()),
        RemoveMemberRequest {
            user_id: member.user_id,
        },
    )
    .await
    .unwrap();

    let wanted = [
        actions::TOKEN_FAMILY_REVOKED,
        actions::PASSWORD_CHANGED,
        actions::LOGGED_OUT_EVERYWHERE,
        actions::MEMBER_REMOVED,
    ];
    let events = wait_for("the four events", Duration::from_secs(15), || async {
        let events = events(&auth, &owner).await;
        wanted
            .iter()
            .all(|action| events.iter().any(|e| e.action == *action))
            .then_some(events)
    })
    .await
    .unwrap();
    // The family is revoked by auth on noticing the reuse; the rest by the owner.
    for action in &wanted[1..] {
        let event = events.iter().find(|e| e.action == *action).unwrap();
        assert_eq!(event.actor, Actor::User { id: owner.user_id }, "{action}");
    }
    let removed = events
        .iter()
        .find(|e| e.action == actions::MEMBER_REMOVED)
        .unwrap();
    assert_eq!(
        removed.target.as_ref().map(|t| t.id.clone()),
        Some(member.user_id.to_string())
    );
    auth.stop().await;
}
