//! Email verification, password reset, invitations and role changes against real NATS and
//! Postgres. Tokens are read where the notifier would read them: the `identity.email-requested`
//! messages on the `IDENTITY` stream.

// Helpers here unwrap like the tests they serve (clippy.toml covers #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::helpers::{MASTER_KEY, PASSWORD, TestAuth, identity_of};
use herald_contracts::messages::identity::{EMAIL_REQUESTED_FILTER, EmailKind, EmailRequested};
use herald_contracts::rpc::audit::{ListAudit, ListAuditRequest};
use herald_contracts::rpc::auth::{NoParams, RemoveMember, RemoveMemberRequest, TokenResponse};
use herald_contracts::rpc::identity::{
    AcceptInvitation, AcceptInvitationRequest, ChangeMemberRole, ChangeRoleRequest,
    ConfirmPasswordReset, ConfirmPasswordResetRequest, CreateInvitation, CreateInvitationRequest,
    GetMe, InvitationStatus, ListInvitations, PasswordResetRequest, RequestPasswordReset,
    ResendVerification, RevokeInvitation, RevokeInvitationRequest, VerifyEmail, VerifyEmailRequest,
};
use herald_contracts::rpc::{ErrorCode, Identity, Role, RpcError};
use herald_contracts::{Envelope, TenantId};
use herald_kit::async_nats::jetstream::consumer::{DeliverPolicy, pull};
use herald_testkit::wait_for;
use sha2::{Digest, Sha256};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

/// Every email auth asked for so far, oldest first, with the message's `Nats-TTL`.
async fn emails(auth: &TestAuth) -> Vec<(EmailRequested, Option<String>)> {
    use futures::StreamExt;
    let Ok(stream) = auth.js().get_stream("IDENTITY").await else {
        return Vec::new();
    };
    let Ok(consumer) = stream
        .create_consumer(pull::OrderedConfig {
            filter_subject: EMAIL_REQUESTED_FILTER.into(),
            deliver_policy: DeliverPolicy::All,
            ..Default::default()
        })
        .await
    else {
        return Vec::new();
    };
    let pending = consumer.cached_info().num_pending as usize;
    let mut found = Vec::new();
    if pending == 0 {
        return found;
    }
    let Ok(mut messages) = consumer.messages().await else {
        return found;
    };
    while found.len() < pending {
        let Ok(Some(Ok(message))) =
            tokio::time::timeout(Duration::from_secs(5), messages.next()).await
        else {
            break;
        };
        let ttl = message
            .headers
            .as_ref()
            .and_then(|h| h.get("Nats-TTL"))
            .map(|v| v.to_string());
        if let Ok(envelope) = serde_json::from_slice::<Envelope<EmailRequested>>(&message.payload) {
            found.push((envelope.data, ttl));
        }
    }
    found
}

/// The token of the `nth` (0-based) email of `kind` to `to`, once it is on the stream.
async fn token(auth: &TestAuth, to: &str, kind: EmailKind, nth: usize) -> String {
    let email = wait_for("the email on the IDENTITY stream", WAIT, || async {
        emails(auth)
            .await
            .into_iter()
            .filter(|(email, _)| email.to == to && email.kind == kind)
            .nth(nth)
    })
    .await
    .unwrap()
    .0;
    email
        .link
        .split_once("#token=")
        .expect("a token in the link")
        .1
        .to_owned()
}

fn sha256(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

async fn rows_with_hash(auth: &TestAuth, table: &str, token: &str) -> i64 {
    use diesel_async::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = auth.conn().await.unwrap();
    let row: Count = diesel::sql_query(format!(
        "SELECT count(*) AS n FROM {table} WHERE token_hash = $1"
    ))
    .bind::<diesel::sql_types::Bytea, _>(sha256(token))
    .get_result(&mut conn)
    .await
    .unwrap();
    row.n
}

async fn sql(auth: &TestAuth, statement: &str, token: &str) {
    use diesel_async::RunQueryDsl;
    let mut conn = auth.conn().await.unwrap();
    diesel::sql_query(statement)
        .bind::<diesel::sql_types::Bytea, _>(sha256(token))
        .execute(&mut conn)
        .await
        .unwrap();
}

async fn signed_up(auth: &TestAuth, tenant: &str, email: &str) -> TokenResponse {
    auth.register(tenant, email, PASSWORD).await.unwrap();
    auth.login(email, PASSWORD).await.unwrap()
}

fn code<T: std::fmt::Debug>(result: Result<T, RpcError>) -> ErrorCode {
    result.expect_err("an error").code
}

/// The actions in the tenant's audit log, once at least `expected` are there.
async fn audit_actions(auth: &TestAuth, owner: &Identity, expected: &[&str]) -> Vec<String> {
    wait_for("the audit events", WAIT, || async {
        let page = auth
            .call::<ListAudit>(
                Some(owner.clone()),
                ListAuditRequest {
                    action: None,
                    actor: None,
                    since: None,
                    until: None,
                    limit: Some(200),
                    cursor: None,
                },
            )
            .await
            .ok()?;
        let actions: Vec<String> = page.events.into_iter().map(|e| e.action).collect();
        expected
            .iter()
            .all(|action| actions.iter().any(|a| a == action))
            .then_some(actions)
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn verification_tokens_are_hashed_single_use_and_expire() {
    let auth = TestAuth::start().await.unwrap();
    let ada = identity_of(
        &signed_up(&auth, "Acme", "ada@example.com")
            .await
            .access_token,
    );
    let me = auth
        .call::<GetMe>(Some(ada.clone()), NoParams {})
        .await
        .unwrap();
    assert_eq!(
        (me.email.as_str(), me.email_verified),
        ("ada@example.com", false)
    );
    assert_eq!((me.tenant_id, me.role), (ada.tenant_id, Role::Owner));

    let first = token(&auth, "ada@example.com", EmailKind::VerifyEmail, 0).await;
    // Only the hash is stored, and the stream keeps the message no longer than the token.
    assert_eq!(rows_with_hash(&auth, "user_tokens", &first).await, 1);
    let (_, ttl) = emails(&auth).await.into_iter().next().unwrap();
    assert_eq!(ttl.as_deref(), Some("86400"));
    assert_eq!(
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &first)
            .unwrap()
            .len(),
        32
    );

    auth.call::<ResendVerification>(Some(ada.clone()), NoParams {})
        .await
        .unwrap();
    let second = token(&auth, "ada@example.com", EmailKind::VerifyEmail, 1).await;
    assert_ne!(first, second);
    sql(
        &auth,
        "UPDATE user_tokens SET expires_at = now() - interval '1 second' WHERE token_hash = $1",
        &second,
    )
    .await;
    let verify = |token: &str| {
        auth.call::<VerifyEmail>(
            None,
            VerifyEmailRequest {
                token: token.into(),
            },
        )
    };
    assert_eq!(code(verify(&second).await), ErrorCode::InvalidInput);
    assert_eq!(code(verify("not-a-token").await), ErrorCode::InvalidInput);
    verify(&first).await.unwrap();
    assert_eq!(code(verify(&first).await), ErrorCode::InvalidInput);
    let me = auth
        .call::<GetMe>(Some(ada.clone()), NoParams {})
        .await
        .unwrap();
    assert!(me.email_verified);
    assert_eq!(
        code(
            auth.call::<ResendVerification>(Some(ada), NoParams {})
                .await
        ),
        ErrorCode::Conflict
    );
    auth.stop().await;
}

#[tokio::test]
async fn password_reset_ends_every_session_and_tells_nothing() {
    let auth = TestAuth::start().await.unwrap();
    let session = signed_up(&auth, "Acme", "ada@example.com").await;
    let ada = identity_of(&session.access_token);
    let reset = |email: &str| {
        auth.call::<RequestPasswordReset>(
            None,
            PasswordResetRequest {
                email: email.into(),
                client_ip: Some("192.0.2.7".into()),
            },
        )
    };
    // The same answer for a registered address, an unknown one and a malformed one.
    reset("ADA@example.com ").await.unwrap();
    reset("nobody@example.com").await.unwrap();
    reset("not an address").await.unwrap();
    let token = token(&auth, "ada@example.com", EmailKind::PasswordReset, 0).await;
    let resets: Vec<_> = emails(&auth)
        .await
        .into_iter()
        .filter(|(email, _)| email.kind == EmailKind::PasswordReset)
        .collect();
    assert_eq!(resets.len(), 1, "no email for unknown addresses");
    assert_eq!(resets[0].1.as_deref(), Some("3600"));
    assert_eq!(rows_with_hash(&auth, "user_tokens", &token).await, 1);

    let confirm = |token: &str, password: &str| {
        auth.call::<ConfirmPasswordReset>(
            None,
            ConfirmPasswordResetRequest {
                token: token.into(),
                password: password.into(),
            },
        )
    };
    assert_eq!(
        code(confirm(&token, "short").await),
        ErrorCode::InvalidInput
    );
    confirm(&token, "a brand new passphrase").await.unwrap();
    assert_eq!(
        code(confirm(&token, "yet another passphrase").await),
        ErrorCode::InvalidInput,
        "single use"
    );
    // Every session ended: the refresh token is dead and gateways refuse older access tokens.
    assert_eq!(
        code(auth.refresh(&session.refresh_token).await),
        ErrorCode::Unauthenticated
    );
    let revoked = auth
        .revocation(&herald_contracts::rpc::auth::user_revocation_key(
            &ada.user_id,
        ))
        .await
        .expect("user.<id> put");
    assert!(revoked.revoked_at.timestamp() >= crate::helpers::claims_of(&session.access_token).iat);
    assert_eq!(
        code(auth.login("ada@example.com", PASSWORD).await),
        ErrorCode::Unauthenticated
    );
    let fresh = auth
        .login("ada@example.com", "a brand new passphrase")
        .await
        .unwrap();
    // The link reached the address: verified.
    let me = auth
        .call::<GetMe>(Some(identity_of(&fresh.access_token)), NoParams {})
        .await
        .unwrap();
    assert!(me.email_verified);
    let actions = audit_actions(&auth, &ada, &["password.reset"]).await;
    assert!(actions.contains(&"password.reset".to_owned()));
    auth.stop().await;
}

#[tokio::test]
async fn password_reset_requests_are_throttled_per_address_and_per_ip() {
    let mut auth = TestAuth::infrastructure().await.unwrap();
    let env = herald_kit::Env::from_pairs([
        ("HERALD_NATS_URL", auth.nats.url()),
        ("HERALD_DATABASE_URL", auth.db.url().to_owned()),
        ("HERALD_OPS_ADDR", "127.0.0.1:0".into()),
        ("HERALD_LOG", "warn".into()),
        ("HERALD_DB_POOL_SIZE", "4".into()),
        ("HERALD_AUTH_MASTER_KEY", MASTER_KEY.into()),
        ("HERALD_AUTH_ARGON2_MEMORY_KIB", "1024".into()),
        ("HERALD_AUTH_ARGON2_ITERATIONS", "1".into()),
        ("HERALD_AUTH_RESET_MAX_PER_EMAIL", "2".into()),
        ("HERALD_AUTH_RESET_MAX_PER_IP", "5".into()),
    ]);
    auth.apps.push(crate::helpers::Running::spawn(
        herald_auth::start(env).await.unwrap(),
    ));
    auth.register("Acme", "ada@example.com", PASSWORD)
        .await
        .unwrap();
    let reset = |email: String, ip: &str| {
        auth.call::<RequestPasswordReset>(
            None,
            PasswordResetRequest {
                email,
                client_ip: Some(ip.into()),
            },
        )
    };
    // Per address: registered and unknown alike get two, then 429 with a retry time.
    for email in ["ada@example.com", "nobody@example.com"] {
        reset(email.into(), "192.0.2.1").await.unwrap();
        reset(email.into(), "192.0.2.2").await.unwrap();
        let refused = reset(email.into(), "192.0.2.3").await.unwrap_err();
        assert_eq!(refused.code, ErrorCode::RateLimited, "{email}");
        assert!(refused.retry_after_secs.is_some_and(|secs| secs > 3000));
    }
    // Per IP: five addresses from one address (IPv6: its /64), then 429.
    for n in 0..5 {
        reset(format!("guess{n}@example.com"), "2001:db8::1")
            .await
            .unwrap();
    }
    let refused = reset("guess9@example.com".into(), "2001:db8::ffff")
        .await
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::RateLimited);
    reset("guess9@example.com".into(), "198.51.100.1")
        .await
        .unwrap();
    auth.stop().await;
}

#[tokio::test]
async fn invitations_apply_their_role_once_and_can_be_revoked() {
    let auth = TestAuth::start().await.unwrap();
    let ada = identity_of(&signed_up(&auth, "Acme", "ada@acme.test").await.access_token);
    let invite = |who: &Identity, email: &str, role| {
        auth.call::<CreateInvitation>(
            Some(who.clone()),
            CreateInvitationRequest {
                email: email.into(),
                role,
            },
        )
    };
    let accept = |token: &str, password: &str| {
        auth.call::<AcceptInvitation>(
            None,
            AcceptInvitationRequest {
                token: token.into(),
                password: password.into(),
            },
        )
    };
    // A new account: created with the invitation's role, its address verified.
    let invitation = invite(&ada, "Bob@Acme.test", Role::Editor).await.unwrap();
    assert_eq!(
        (invitation.email.as_str(), invitation.status),
        ("bob@acme.test", InvitationStatus::Pending)
    );
    let bob_token = token(&auth, "bob@acme.test", EmailKind::Invitation, 0).await;
    assert_eq!(rows_with_hash(&auth, "invitations", &bob_token).await, 1);
    assert_eq!(
        code(accept(&bob_token, "short").await),
        ErrorCode::InvalidInput
    );
    let accepted = accept(&bob_token, "bob's long password").await.unwrap();
    assert_eq!(
        (accepted.tenant_id, accepted.role, accepted.new_account),
        (ada.tenant_id, Role::Editor, true)
    );
    assert_eq!(
        code(accept(&bob_token, "bob's long password").await),
        ErrorCode::InvalidInput
    );
    let bob = identity_of(
        &auth
            .login("bob@acme.test", "bob's long password")
            .await
            .unwrap()
            .access_token,
    );
    assert_eq!((bob.tenant_id, bob.role), (ada.tenant_id, Role::Editor));
    assert!(
        auth.call::<GetMe>(Some(bob.clone()), NoParams {})
            .await
            .unwrap()
            .email_verified
    );

    // Editors do not invite; nobody invites above their role; members are not invited again.
    assert_eq!(
        code(invite(&bob, "x@acme.test", Role::Viewer).await),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code(invite(&ada, "bob@acme.test", Role::Viewer).await),
        ErrorCode::Conflict
    );

    // An existing account (owner of its own tenant) joins with its current password, and
    // logs in to either tenant.
    let eve_own = identity_of(&signed_up(&auth, "Evil", "eve@evil.test").await.access_token);
    invite(&ada, "eve@evil.test", Role::Viewer).await.unwrap();
    let eve_token = token(&auth, "eve@evil.test", EmailKind::Invitation, 0).await;
    assert_eq!(
        code(accept(&eve_token, "not her password").await),
        ErrorCode::Forbidden
    );
    let joined = accept(&eve_token, PASSWORD).await.unwrap();
    assert_eq!(
        (joined.user_id, joined.new_account, joined.role),
        (eve_own.user_id, false, Role::Viewer)
    );
    let eve_default = identity_of(
        &auth
            .login("eve@evil.test", PASSWORD)
            .await
            .unwrap()
            .access_token,
    );
    assert_eq!(
        (eve_default.tenant_id, eve_default.role),
        (eve_own.tenant_id, Role::Owner)
    );
    let eve_acme = herald_kit::rpc::call::<herald_contracts::rpc::auth::Login>(
        &auth.client,
        "req-login",
        None,
        herald_contracts::rpc::auth::LoginRequest {
            email: "eve@evil.test".into(),
            password: PASSWORD.into(),
            client_ip: None,
            tenant_id: Some(ada.tenant_id),
        },
        crate::helpers::TIMEOUT,
    )
    .await
    .unwrap();
    let eve_acme = identity_of(&eve_acme.access_token);
    assert_eq!(
        (eve_acme.tenant_id, eve_acme.role),
        (ada.tenant_id, Role::Viewer)
    );
    let me = auth
        .call::<GetMe>(Some(eve_acme), NoParams {})
        .await
        .unwrap();
    assert_eq!(me.memberships.len(), 2);

    // Revoked and expired invitations do not open; another tenant cannot revoke ours.
    let carol = invite(&ada, "carol@acme.test", Role::Viewer).await.unwrap();
    let carol_token = token(&auth, "carol@acme.test", EmailKind::Invitation, 0).await;
    let revoke = |who: &Identity, id| {
        auth.call::<RevokeInvitation>(Some(who.clone()), RevokeInvitationRequest { id })
    };
    assert_eq!(code(revoke(&eve_own, carol.id).await), ErrorCode::NotFound);
    revoke(&ada, carol.id).await.unwrap();
    assert_eq!(
        code(accept(&carol_token, "carol's long password").await),
        ErrorCode::InvalidInput
    );
    invite(&ada, "dan@acme.test", Role::Viewer).await.unwrap();
    let dan_token = token(&auth, "dan@acme.test", EmailKind::Invitation, 0).await;
    sql(
        &auth,
        "UPDATE invitations SET expires_at = now() - interval '1 second' WHERE token_hash = $1",
        &dan_token,
    )
    .await;
    assert_eq!(
        code(accept(&dan_token, "dan's long password").await),
        ErrorCode::InvalidInput
    );
    let listed = auth
        .call::<ListInvitations>(Some(ada.clone()), NoParams {})
        .await
        .unwrap()
        .invitations;
    let status = |email: &str| listed.iter().find(|i| i.email == email).map(|i| i.status);
    assert_eq!(status("bob@acme.test"), Some(InvitationStatus::Accepted));
    assert_eq!(status("carol@acme.test"), Some(InvitationStatus::Revoked));
    assert_eq!(status("dan@acme.test"), Some(InvitationStatus::Expired));
    assert_eq!(
        code(auth.call::<ListInvitations>(Some(bob), NoParams {}).await),
        ErrorCode::Forbidden
    );
    let actions = audit_actions(
        &auth,
        &ada,
        &[
            "invitation.created",
            "invitation.accepted",
            "invitation.revoked",
        ],
    )
    .await;
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "invitation.accepted")
            .count(),
        2
    );
    auth.stop().await;
}

#[tokio::test]
async fn role_changes_follow_the_rules_and_retire_old_tokens() {
    let auth = TestAuth::start().await.unwrap();
    let ada = identity_of(&signed_up(&auth, "Acme", "ada@acme.test").await.access_token);
    let tenant: TenantId = ada.tenant_id;
    auth.call::<CreateInvitation>(
        Some(ada.clone()),
        CreateInvitationRequest {
            email: "bob@acme.test".into(),
            role: Role::Editor,
        },
    )
    .await
    .unwrap();
    let invitation = token(&auth, "bob@acme.test", EmailKind::Invitation, 0).await;
    auth.call::<AcceptInvitation>(
        None,
        AcceptInvitationRequest {
            token: invitation,
            password: "bob's long password".into(),
        },
    )
    .await
    .unwrap();
    let bob_session = auth
        .login("bob@acme.test", "bob's long password")
        .await
        .unwrap();
    let bob = identity_of(&bob_session.access_token);
    let change = |who: &Identity, user: &Identity, role| {
        auth.call::<ChangeMemberRole>(
            Some(who.clone()),
            ChangeRoleRequest {
                user_id: user.user_id,
                role,
            },
        )
    };
    assert_eq!(
        code(change(&bob, &bob, Role::Admin).await),
        ErrorCode::Forbidden
    );
    // The last owner cannot step down.
    assert_eq!(
        code(change(&ada, &ada, Role::Admin).await),
        ErrorCode::Conflict
    );

    let changed = change(&ada, &bob, Role::Admin).await.unwrap();
    assert_eq!((changed.user_id, changed.role), (bob.user_id, Role::Admin));
    // Bob's tokens from before are refused by every gateway (member.<t>.<u> after their iat),
    // and his session lives on: the refresh reads the new role.
    let key = herald_contracts::rpc::auth::membership_revocation_key(&tenant, &bob.user_id);
    let revoked = auth.revocation(&key).await.expect("member.<t>.<u> put");
    let old_iat = crate::helpers::claims_of(&bob_session.access_token).iat;
    assert!(old_iat < revoked.revoked_at.timestamp());
    let refreshed = auth.refresh(&bob_session.refresh_token).await.unwrap();
    let claims = crate::helpers::claims_of(&refreshed.access_token);
    assert_eq!(claims.role, "admin");
    assert!(
        claims.iat >= revoked.revoked_at.timestamp(),
        "new token not refused"
    );
    let bob = identity_of(&refreshed.access_token);

    // An admin manages admins, editors and viewers, never owners.
    assert_eq!(
        code(change(&bob, &bob, Role::Owner).await),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code(change(&bob, &ada, Role::Viewer).await),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code(
            auth.call::<RemoveMember>(
                Some(bob.clone()),
                RemoveMemberRequest {
                    user_id: ada.user_id
                }
            )
            .await
        ),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code(
            auth.call::<CreateInvitation>(
                Some(bob.clone()),
                CreateInvitationRequest {
                    email: "carol@acme.test".into(),
                    role: Role::Owner,
                },
            )
            .await
        ),
        ErrorCode::Forbidden
    );
    // Another tenant's user is not found.
    let eve = identity_of(&signed_up(&auth, "Evil", "eve@evil.test").await.access_token);
    assert_eq!(
        code(change(&ada, &eve, Role::Viewer).await),
        ErrorCode::NotFound
    );

    // With a second owner the first may step down; then the second is the last.
    change(&ada, &bob, Role::Owner).await.unwrap();
    change(&ada, &ada, Role::Admin).await.unwrap();
    assert_eq!(
        code(change(&bob, &bob, Role::Editor).await),
        ErrorCode::Conflict
    );
    // Bob as his next token names him (owner): the last owner cannot leave either.
    let bob_owner = Identity {
        role: Role::Owner,
        ..bob.clone()
    };
    assert_eq!(
        code(
            auth.call::<RemoveMember>(
                Some(bob_owner),
                RemoveMemberRequest {
                    user_id: bob.user_id
                }
            )
            .await
        ),
        ErrorCode::Conflict
    );
    let actions = audit_actions(&auth, &ada, &["member.role_changed"]).await;
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "member.role_changed")
            .count(),
        3
    );
    auth.stop().await;
}
