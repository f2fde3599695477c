//! The erasure coordinator on its own: `rpc.auth.erasure.tenant` cuts access at once, auth
//! erases and confirms its own part, the other services' confirmations (published here as
//! they would publish them) complete it; and the audit table changes only through the
//! erasure functions, never by a plain statement of the service role.

// Helpers outside #[test] functions unwrap too; clippy.toml only covers the latter.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::helpers::{PASSWORD, TestAuth, count, identity_of};
use diesel_async::{RunQueryDsl, SimpleAsyncConnection};
use herald_contracts::messages::audit::actions;
use herald_contracts::messages::privacy::{ERASING_SERVICES, ErasureConfirmed};
use herald_contracts::rpc::auth::membership_revocation_key;
use herald_contracts::rpc::erasure::{
    EraseRequest, EraseTenant, ErasureStatus, ErasureStatusRequest, ErasureView, GetErasure,
};
use herald_contracts::rpc::{ErrorCode, Role};
use herald_contracts::{Envelope, TenantId};
use herald_kit::Outgoing;
use herald_kit::db::Db;
use herald_testkit::wait_for;
use std::time::Duration;

async fn status(auth: &TestAuth, erasure_id: &str) -> ErasureView {
    auth.call::<GetErasure>(
        None,
        ErasureStatusRequest {
            erasure_id: erasure_id.to_owned(),
        },
    )
    .await
    .unwrap()
}

fn confirmed(view: &ErasureView, service: &str) -> bool {
    view.services
        .iter()
        .any(|s| s.service == service && s.confirmed_at.is_some())
}

#[tokio::test]
async fn a_tenant_erasure_cuts_access_at_once_and_completes_when_every_service_confirmed() {
    let auth = TestAuth::start().await.unwrap();
    auth.register("Gone", "owner@gone.test", PASSWORD)
        .await
        .unwrap();
    let owner = identity_of(
        &auth
            .login("owner@gone.test", PASSWORD)
            .await
            .unwrap()
            .access_token,
    );
    let tenant = owner.tenant_id;

    // Only an owner, and never through an API key.
    for identity in [
        herald_contracts::rpc::Identity {
            role: Role::Admin,
            ..owner.clone()
        },
        herald_contracts::rpc::Identity {
            api_key_id: Some(uuid::Uuid::new_v4()),
            ..owner.clone()
        },
    ] {
        let refused = auth
            .call::<EraseTenant>(Some(identity), EraseRequest {})
            .await
            .unwrap_err();
        assert_eq!(refused.code, ErrorCode::Forbidden);
    }

    let started = auth
        .call::<EraseTenant>(Some(owner.clone()), EraseRequest {})
        .await
        .unwrap();
    assert_eq!(started.status, ErasureStatus::Pending);
    assert_eq!(started.erasure_id.len(), 32, "128 bits, hex");
    // Access ends with the request: no membership, the member's tokens refused.
    let mut conn = auth.conn().await.unwrap();
    assert_eq!(count(&mut conn, "memberships").await.unwrap(), 0);
    assert!(
        auth.revocation(&membership_revocation_key(&tenant, &owner.user_id))
            .await
            .is_some()
    );
    // Asking again returns the same erasure.
    let again = auth
        .call::<EraseTenant>(Some(owner.clone()), EraseRequest {})
        .await
        .unwrap();
    assert_eq!(again.erasure_id, started.erasure_id);

    // auth erases and confirms its own part; the others are still pending.
    let view = wait_for("auth's own part", Duration::from_secs(20), || async {
        let view = status(&auth, &started.erasure_id).await;
        confirmed(&view, "auth").then_some(view)
    })
    .await
    .unwrap();
    assert_eq!(view.status, ErasureStatus::Pending);
    assert!(!confirmed(&view, "billing"));
    assert_eq!(count(&mut conn, "tenants").await.unwrap(), 0);

    // The others confirm (twice: a redelivered confirmation is harmless).
    let erasure_id: uuid::Uuid = started.erasure_id.parse().unwrap();
    let js = auth.js();
    for service in ERASING_SERVICES.iter().filter(|s| **s != "auth") {
        let message = Envelope::new(
            tenant,
            "req-confirm",
            None,
            ErasureConfirmed {
                erasure_id,
                tenant_id: tenant,
                service: (*service).to_owned(),
            },
        );
        let outgoing = Outgoing::message(&message);
        for _ in 0..2 {
            js.publish(outgoing.subject.clone(), outgoing.payload.clone().into())
                .await
                .unwrap()
                .await
                .unwrap();
        }
    }
    let view = wait_for("the erasure complete", Duration::from_secs(20), || async {
        let view = status(&auth, &started.erasure_id).await;
        (view.status == ErasureStatus::Complete).then_some(view)
    })
    .await
    .unwrap();
    assert!(view.completed_at.is_some());
    assert!(view.services.iter().all(|s| s.confirmed_at.is_some()));
    // The owner keeps their user account: a tenant's erasure erases no user.
    assert_eq!(count(&mut conn, "users").await.unwrap(), 1);
    // The request and the completion stay on the AUDIT stream, which outlives the tenant's
    // rows in the audit table (erased with it).
    let audit = wait_for(
        "both erasure audit events",
        Duration::from_secs(15),
        || async {
            let subjects: Vec<String> =
                herald_testkit::read_stream(&auth.client, "AUDIT", &format!("audit.{tenant}.>"))
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|m| m.subject.to_string())
                    .collect();
            let has = |action: &str| subjects.iter().any(|s| s.ends_with(action));
            (has(actions::ERASURE_REQUESTED) && has(actions::ERASURE_COMPLETED)).then_some(subjects)
        },
    )
    .await;
    audit.expect("erasure audit events on the AUDIT stream");

    let unknown = auth
        .call::<GetErasure>(
            None,
            ErasureStatusRequest {
                erasure_id: "not-an-id".into(),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(unknown.code, ErrorCode::NotFound);
    auth.stop().await;
}

#[tokio::test]
async fn the_audit_table_changes_only_through_the_erasure_functions() {
    let auth = TestAuth::infrastructure().await.unwrap();
    let db = Db::connect(auth.db.url(), herald_auth::SCHEMA, "erasure-test", 2)
        .await
        .unwrap();
    let tenant = TenantId::new();
    let insert = format!(
        "INSERT INTO audit_events (event_id, tenant_id, action, actor_type, actor_id, outcome, client_ip, request_id, occurred_at) \
         VALUES (gen_random_uuid(), '{tenant}', 'auth.login_succeeded', 'user', 'u-1', 'success', '198.51.100.7', 'r', now())"
    );
    let mut conn = db.tenant(tenant).await.unwrap();
    conn.batch_execute(&insert).await.unwrap();
    // The service role, even with the erasure flag set by hand, cannot change a row.
    for statement in [
        "DELETE FROM audit_events".to_owned(),
        "UPDATE audit_events SET actor_id = 'x'".to_owned(),
        "SELECT set_config('herald.audit_erasure', 'on', false); DELETE FROM audit_events"
            .to_owned(),
        "TRUNCATE audit_events".to_owned(),
    ] {
        let refused = conn.batch_execute(&statement).await.unwrap_err();
        let text = refused.to_string();
        assert!(
            text.contains("append-only") || text.contains("permission denied"),
            "{statement}: {text}"
        );
    }
    conn.batch_execute("SELECT set_config('herald.audit_erasure', '', false)")
        .await
        .unwrap();
    // Through the functions: pseudonymised (IP cleared), then deleted.
    diesel::sql_query(format!(
        "SELECT pseudonymise_audit_user('{tenant}', 'u-1', 'p-1')"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        count(
            &mut conn,
            "audit_events WHERE actor_id = 'p-1' AND client_ip IS NULL"
        )
        .await
        .unwrap(),
        1
    );
    diesel::sql_query(format!("SELECT erase_audit_events('{tenant}')"))
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(count(&mut conn, "audit_events").await.unwrap(), 0);
}
