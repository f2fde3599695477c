//! The audit log: login events reach the `AUDIT` stream through the outbox, auth stores them,
//! and `rpc.auth.audit.list` shows a tenant its own, filtered and a page at a time. The stream
//! refuses purges and deletes.

// Helpers outside #[test] functions unwrap too; clippy.toml only covers the latter.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::helpers::{PASSWORD, TIMEOUT};
use crate::throttle::{login_from, two_replicas};
use chrono::Utc;
use herald_contracts::messages::audit::{Actor, Outcome, actions};
use herald_contracts::rpc::audit::{AuditEntry, AuditPage, ListAudit, ListAuditRequest};
use herald_contracts::rpc::{ErrorCode, Role, RpcError};
use herald_contracts::streams::AUDIT;
use herald_contracts::{TenantId, UserId};
use herald_kit::async_nats;
use herald_testkit::{identity, wait_for};
use std::time::Duration;

async fn list(
    client: &async_nats::Client,
    tenant: TenantId,
    role: Role,
    request: ListAuditRequest,
) -> Result<AuditPage, RpcError> {
    herald_kit::rpc::call::<ListAudit>(
        client,
        "req-audit",
        Some(identity(tenant, role)),
        request,
        TIMEOUT,
    )
    .await
}

async fn all(client: &async_nats::Client, tenant: TenantId) -> Vec<AuditEntry> {
    list(client, tenant, Role::Admin, ListAuditRequest::default())
        .await
        .unwrap()
        .events
}

#[tokio::test]
async fn logins_failures_and_lockouts_are_audited_per_tenant() {
    let auth = two_replicas(&[("MAX_FAILURES", "3"), ("LOCK_SECS", "60")]).await;
    let ada = auth
        .register("Acme", "ada@example.com", PASSWORD)
        .await
        .unwrap();
    let bob = auth
        .register("Bobco", "bob@example.com", PASSWORD)
        .await
        .unwrap();
    let ip = Some("198.51.100.7");

    login_from(&auth.client, "ada@example.com", PASSWORD, ip)
        .await
        .unwrap();
    for _ in 0..3 {
        let error = login_from(&auth.client, "ada@example.com", "not the password", ip)
            .await
            .unwrap_err();
        assert_eq!(error.code, ErrorCode::Unauthenticated);
    }
    // Refused while locked: answered, but not an event of its own (the lockout was).
    let error = login_from(&auth.client, "ada@example.com", PASSWORD, ip)
        .await
        .unwrap_err();
    assert_eq!(error.code, ErrorCode::RateLimited);
    // Unknown emails have no tenant: nobody's audit log gets them.
    for _ in 0..4 {
        let _ = login_from(&auth.client, "ghost@example.com", "whatever", ip).await;
    }

    let events = wait_for("ada's five events", Duration::from_secs(15), || {
        let client = auth.client.clone();
        async move {
            let events = all(&client, ada.tenant_id).await;
            (events.len() >= 5).then_some(events)
        }
    })
    .await
    .unwrap();
    // Newest first: the lockout, three failures, the login.
    let names: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        names,
        [
            actions::LOGIN_LOCKED_OUT,
            actions::LOGIN_FAILED,
            actions::LOGIN_FAILED,
            actions::LOGIN_FAILED,
            actions::LOGIN_SUCCEEDED,
        ],
        "{events:#?}"
    );
    let user = Actor::User { id: ada.user_id };
    for event in &events {
        assert_eq!(event.actor, user);
        assert_eq!(event.client_ip.as_deref(), ip);
        let target = event.target.as_ref().expect("a target");
        assert_eq!(
            (target.kind.as_str(), target.id.clone()),
            ("user", ada.user_id.to_string())
        );
        assert!(event.request_id.starts_with("req-"));
        assert!(event.occurred_at <= Utc::now());
    }
    assert_eq!(events[4].outcome, Outcome::Success);
    assert_eq!(events[1].outcome, Outcome::Failure);
    assert_eq!(events[1].reason.as_deref(), Some("wrong password"));
    assert_eq!(events[0].outcome, Outcome::Denied);

    // Filters.
    let failed = list(
        &auth.client,
        ada.tenant_id,
        Role::Owner,
        ListAuditRequest {
            action: Some(actions::LOGIN_FAILED.into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(failed.events.len(), 3);
    let by_actor = |actor: String| ListAuditRequest {
        actor: Some(actor),
        ..Default::default()
    };
    let mine = list(
        &auth.client,
        ada.tenant_id,
        Role::Admin,
        by_actor(ada.user_id.to_string()),
    )
    .await
    .unwrap();
    assert_eq!(mine.events.len(), 5);
    let nobody = list(
        &auth.client,
        ada.tenant_id,
        Role::Admin,
        by_actor(UserId::new().to_string()),
    )
    .await
    .unwrap();
    assert!(nobody.events.is_empty());
    let login_at = events[4].occurred_at;
    let after_login = list(
        &auth.client,
        ada.tenant_id,
        Role::Admin,
        ListAuditRequest {
            since: Some(events[3].occurred_at),
            until: Some(Utc::now() + chrono::TimeDelta::seconds(60)),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(after_login.events.len(), 4);
    let before_login = list(
        &auth.client,
        ada.tenant_id,
        Role::Admin,
        ListAuditRequest {
            until: Some(login_at),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(before_login.events.is_empty());

    // Pages of two: 2 + 2 + 1, the same events in the same order, no cursor on the last.
    let mut paged = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = list(
            &auth.client,
            ada.tenant_id,
            Role::Admin,
            ListAuditRequest {
                limit: Some(2),
                cursor: cursor.clone(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        pages += 1;
        paged.extend(page.events);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(paged, events);
    let error = list(
        &auth.client,
        ada.tenant_id,
        Role::Admin,
        ListAuditRequest {
            cursor: Some("garbage".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(error.code, ErrorCode::InvalidInput);

    // Another tenant sees none of it; editors and viewers may not look at all.
    assert!(all(&auth.client, bob.tenant_id).await.is_empty());
    for role in [Role::Editor, Role::Viewer] {
        let error = list(
            &auth.client,
            ada.tenant_id,
            role,
            ListAuditRequest::default(),
        )
        .await
        .unwrap_err();
        assert_eq!(error.code, ErrorCode::Forbidden);
    }
    // Every event on the stream was stored once: the unknown email's failures were not sent.
    let on_stream = herald_testkit::read_stream(&auth.client, AUDIT, "audit.>")
        .await
        .unwrap();
    assert_eq!(on_stream.len(), 5);
    assert!(
        on_stream
            .iter()
            .all(|m| m.subject.starts_with(&format!("audit.{}.", ada.tenant_id))),
    );
    auth.stop().await;
}

#[tokio::test]
async fn the_audit_stream_refuses_purge_and_delete() {
    let auth = two_replicas(&[]).await;
    auth.register("Acme", "ada@example.com", PASSWORD)
        .await
        .unwrap();
    login_from(&auth.client, "ada@example.com", PASSWORD, None)
        .await
        .unwrap();
    let js = auth.js();
    let sequence = wait_for("the login event on AUDIT", Duration::from_secs(15), || {
        let js = js.clone();
        async move {
            let mut stream = js.get_stream(AUDIT).await.ok()?;
            let info = stream.info().await.ok()?;
            (info.state.messages == 1).then_some(info.state.last_sequence)
        }
    })
    .await
    .unwrap();
    let mut stream = js.get_stream(AUDIT).await.unwrap();
    let config = stream.info().await.unwrap().config.clone();
    assert!(config.deny_delete && config.deny_purge, "{config:?}");

    let purge = stream.purge().await;
    assert!(purge.is_err(), "purge refused: {purge:?}");
    let delete = stream.delete_message(sequence).await;
    assert!(delete.is_err(), "delete refused: {delete:?}");
    // Nor can the policy be loosened by updating the stream.
    let mut loosened = config.clone();
    loosened.deny_delete = false;
    loosened.deny_purge = false;
    let loosen = js.update_stream(loosened).await.unwrap_err().to_string();
    assert!(loosen.to_lowercase().contains("deny"), "{loosen}");
    assert_eq!(stream.info().await.unwrap().state.messages, 1);
    auth.stop().await;
}
