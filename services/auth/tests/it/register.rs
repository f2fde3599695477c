//! `rpc.auth.register`: rows, the outbox message on IDENTITY, conflicts and invalid input.

use crate::helpers::{PASSWORD, TestAuth, count};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use futures::StreamExt;
use herald_auth::repo::{memberships, tenants, users};
use herald_contracts::Envelope;
use herald_contracts::messages::UserRegistered;
use herald_contracts::rpc::{ErrorCode, Role};
use herald_contracts::streams::{IDENTITY, headers};
use herald_kit::async_nats::jetstream::consumer::{DeliverPolicy, pull};
use std::time::Duration;

#[tokio::test]
async fn register_commits_tenant_user_membership_and_announces_the_user() {
    let auth = TestAuth::start().await.unwrap();
    let registered = auth
        .register("  Acme Agency ", "  Ada@Example.COM ", PASSWORD)
        .await
        .unwrap();

    let mut conn = auth.conn().await.unwrap();
    let (tenant_name,): (String,) = tenants::table
        .filter(tenants::id.eq(registered.tenant_id.as_uuid()))
        .select((tenants::name,))
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(tenant_name, "Acme Agency");
    let (email, password_hash): (String, String) = users::table
        .filter(users::id.eq(registered.user_id.as_uuid()))
        .select((users::email, users::password_hash))
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(email, "ada@example.com");
    assert!(
        password_hash.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"),
        "{password_hash}"
    );
    assert!(!password_hash.contains(PASSWORD));
    let role: String = memberships::table
        .filter(memberships::tenant_id.eq(registered.tenant_id.as_uuid()))
        .filter(memberships::user_id.eq(registered.user_id.as_uuid()))
        .select(memberships::role)
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(role, "owner");

    // The relay publishes the outbox row to the IDENTITY stream.
    let subject = format!(
        "identity.user-registered.{}.{}",
        registered.tenant_id, registered.user_id
    );
    let consumer = auth
        .js()
        .get_stream(IDENTITY)
        .await
        .unwrap()
        .create_consumer(pull::Config {
            filter_subject: subject.clone(),
            deliver_policy: DeliverPolicy::All,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut messages = consumer.messages().await.unwrap();
    let message = tokio::time::timeout(Duration::from_secs(15), messages.next())
        .await
        .expect("user-registered message on IDENTITY")
        .unwrap()
        .unwrap();
    assert_eq!(message.subject.as_str(), subject);
    let envelope: Envelope<UserRegistered> = serde_json::from_slice(&message.payload).unwrap();
    assert_eq!(
        envelope.id,
        format!("identity.user-registered:{}", registered.user_id)
    );
    assert_eq!(envelope.message_type, "identity.user-registered");
    assert_eq!(envelope.version, 1);
    assert_eq!(envelope.tenant_id, registered.tenant_id);
    assert_eq!(envelope.correlation_id, "req-1");
    assert_eq!(
        envelope.data,
        UserRegistered {
            user_id: registered.user_id,
            email: "ada@example.com".into(),
            role: Role::Owner,
        }
    );
    let message_headers = message.headers.as_ref().unwrap();
    assert_eq!(
        message_headers.get(headers::MSG_ID).map(|v| v.as_str()),
        Some(envelope.id.as_str())
    );
    assert_eq!(
        message_headers.get(headers::TENANT).map(|v| v.as_str()),
        Some(registered.tenant_id.to_string().as_str())
    );
    message.ack().await.unwrap();
    drop(conn);
    auth.stop().await;
}

#[tokio::test]
async fn a_registered_email_is_a_conflict_in_any_case() {
    let auth = TestAuth::start().await.unwrap();
    auth.register("First", "grace@example.com", PASSWORD)
        .await
        .unwrap();
    let error = auth
        .register("Second", " Grace@EXAMPLE.com", "another good password")
        .await
        .unwrap_err();
    assert_eq!(error.code, ErrorCode::Conflict);
    assert_eq!(error.message, "email already registered");

    // Two at once both pass the early check; the unique index turns the loser into a conflict.
    let (a, b) = tokio::join!(
        auth.register("Race A", "race@example.com", PASSWORD),
        auth.register("Race B", "RACE@example.com", PASSWORD),
    );
    let outcomes = [&a, &b];
    assert_eq!(
        outcomes.iter().filter(|r| r.is_ok()).count(),
        1,
        "{a:?} {b:?}"
    );
    let loser = outcomes.iter().find_map(|r| r.as_ref().err()).unwrap();
    assert_eq!(loser.code, ErrorCode::Conflict);
    assert_eq!(loser.message, "email already registered");

    // Nothing of the refused registrations was committed: no tenant, no user, no message.
    let mut conn = auth.conn().await.unwrap();
    assert_eq!(count(&mut conn, "users").await.unwrap(), 2);
    assert_eq!(count(&mut conn, "tenants").await.unwrap(), 2);
    assert_eq!(count(&mut conn, "memberships").await.unwrap(), 2);
    // Each registration: `identity.user-registered` and the verification email.
    assert_eq!(count(&mut conn, "kit_outbox").await.unwrap(), 4);
    drop(conn);
    auth.stop().await;
}

#[tokio::test]
async fn invalid_input_is_refused_with_a_precise_message() {
    let auth = TestAuth::start().await.unwrap();
    let cases = [
        ("Acme", "not-an-email", PASSWORD, "email must contain an @"),
        (
            "Acme",
            "a@b@example.com",
            PASSWORD,
            "email must contain exactly one @",
        ),
        (
            "Acme",
            "ada@example.com",
            "short",
            "password must be at least 10 characters",
        ),
        (
            "   ",
            "ada@example.com",
            PASSWORD,
            "tenant_name is required",
        ),
        (
            &"n".repeat(101),
            "ada@example.com",
            PASSWORD,
            "tenant_name must be at most 100 characters",
        ),
    ];
    for (tenant_name, email, password, message) in cases {
        let error = auth
            .register(tenant_name, email, password)
            .await
            .unwrap_err();
        assert_eq!(error.code, ErrorCode::InvalidInput, "{email} {message}");
        assert_eq!(error.message, message);
        assert!(!error.message.contains(password));
    }
    let mut conn = auth.conn().await.unwrap();
    assert_eq!(count(&mut conn, "users").await.unwrap(), 0);
    assert_eq!(count(&mut conn, "tenants").await.unwrap(), 0);
    assert_eq!(count(&mut conn, "kit_outbox").await.unwrap(), 0);
    drop(conn);
    auth.stop().await;
}
