//! Sessions: refresh-token rotation and reuse detection, logout, logging out everywhere,
//! password change and member removal, each seen in the database, in the `auth-revocations`
//! bucket the gateways watch, and in what the next refresh answers.

// Helpers here unwrap like the tests they serve (clippy.toml covers #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::helpers::{PASSWORD, TestAuth, identity_of, session_of};
use diesel::sql_types::Uuid as SqlUuid;
use diesel_async::RunQueryDsl;
use herald_auth::start;
use herald_contracts::rpc::auth::{
    ChangePassword, ChangePasswordRequest, ListMembers, Logout, LogoutAll, LogoutRequest, NoParams,
    RemoveMember, RemoveMemberRequest, TokenResponse, membership_revocation_key,
    session_revocation_key, user_revocation_key,
};
use herald_contracts::rpc::{ErrorCode, Role};
use herald_contracts::{TenantId, UserId};

async fn signed_up(auth: &TestAuth, email: &str) -> TokenResponse {
    auth.register("Acme", email, PASSWORD).await.unwrap();
    auth.login(email, PASSWORD).await.unwrap()
}

fn assert_unauthenticated<T: std::fmt::Debug>(result: Result<T, herald_contracts::rpc::RpcError>) {
    let error = result.expect_err("refused");
    assert_eq!(error.code, ErrorCode::Unauthenticated, "{error:?}");
}

/// `(used, revoked)` for every token of a family.
async fn family_rows(auth: &TestAuth, family: uuid::Uuid) -> Vec<(bool, bool)> {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        used: bool,
        #[diesel(sql_type = diesel::sql_types::Bool)]
        revoked: bool,
    }
    let mut conn = auth.conn().await.unwrap();
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT used_at IS NOT NULL AS used, revoked_at IS NOT NULL AS revoked
         FROM refresh_tokens WHERE family_id = $1 ORDER BY created_at, id",
    )
    .bind::<SqlUuid, _>(family)
    .load(&mut conn)
    .await
    .unwrap();
    rows.into_iter().map(|r| (r.used, r.revoked)).collect()
}

#[tokio::test]
async fn refresh_rotates_within_the_session() {
    let auth = TestAuth::start().await.unwrap();
    let first = signed_up(&auth, "ada@example.com").await;
    let session = session_of(&first.access_token);

    let second = auth.refresh(&first.refresh_token).await.unwrap();
    assert_ne!(second.refresh_token, first.refresh_token);
    assert_ne!(second.access_token, first.access_token);
    assert_eq!(second.expires_in, 900);
    assert_eq!(session_of(&second.access_token), session, "same session");
    assert_eq!(
        identity_of(&second.access_token),
        identity_of(&first.access_token)
    );
    let third = auth.refresh(&second.refresh_token).await.unwrap();
    assert_eq!(session_of(&third.access_token), session);
    // Two rotated, one live, none revoked.
    assert_eq!(
        family_rows(&auth, session).await,
        [(true, false), (true, false), (false, false)]
    );
    assert_unauthenticated(auth.refresh("not-a-token").await);
    auth.stop().await;
}

#[tokio::test]
async fn reusing_a_rotated_token_revokes_the_whole_family() {
    let auth = TestAuth::start().await.unwrap();
    let first = signed_up(&auth, "ada@example.com").await;
    let session = session_of(&first.access_token);
    let other = auth.login("ada@example.com", PASSWORD).await.unwrap();

    let second = auth.refresh(&first.refresh_token).await.unwrap();
    // The thief (or the victim) presents the rotated token: 401 and the family is gone.
    assert_unauthenticated(auth.refresh(&first.refresh_token).await);
    assert_unauthenticated(auth.refresh(&second.refresh_token).await);
    assert!(
        family_rows(&auth, session)
            .await
            .iter()
            .all(|(_, revoked)| *revoked),
        "every token of the family revoked"
    );
    // Every gateway learns that the session's access tokens are dead.
    assert!(
        auth.revocation(&session_revocation_key(&session))
            .await
            .is_some()
    );
    // Another session of the same user is untouched.
    assert_ne!(session_of(&other.access_token), session);
    auth.refresh(&other.refresh_token).await.unwrap();
    auth.stop().await;
}

#[tokio::test]
async fn two_concurrent_uses_of_one_token_do_not_both_succeed() {
    let auth = TestAuth::start().await.unwrap();
    let first = signed_up(&auth, "ada@example.com").await;
    for _ in 0..5 {
        let current = auth.login("ada@example.com", PASSWORD).await.unwrap();
        let (a, b) = tokio::join!(
            auth.refresh(&current.refresh_token),
            auth.refresh(&current.refresh_token)
        );
        let succeeded = [a.is_ok(), b.is_ok()].iter().filter(|ok| **ok).count();
        assert_eq!(succeeded, 1, "exactly one use wins: {a:?} / {b:?}");
        // The loser counted as reuse: the winner's new token is revoked too.
        let winner = a.or(b).unwrap();
        assert_unauthenticated(auth.refresh(&winner.refresh_token).await);
    }
    auth.refresh(&first.refresh_token).await.unwrap();
    auth.stop().await;
}

#[tokio::test]
async fn an_expired_refresh_token_is_refused() {
    let auth = TestAuth::start().await.unwrap();
    let tokens = signed_up(&auth, "ada@example.com").await;
    let mut conn = auth.conn().await.unwrap();
    diesel::sql_query(
        "UPDATE refresh_tokens SET expires_at = now() - interval '1 second' WHERE family_id = $1",
    )
    .bind::<SqlUuid, _>(session_of(&tokens.access_token))
    .execute(&mut conn)
    .await
    .unwrap();
    assert_unauthenticated(auth.refresh(&tokens.refresh_token).await);
    auth.stop().await;
}

#[tokio::test]
async fn logout_ends_the_callers_session_only() {
    let auth = TestAuth::start().await.unwrap();
    let tokens = signed_up(&auth, "ada@example.com").await;
    let other = auth.login("ada@example.com", PASSWORD).await.unwrap();
    let session = session_of(&tokens.access_token);
    let identity = identity_of(&tokens.access_token);

    auth.call::<Logout>(
        Some(identity.clone()),
        LogoutRequest {
            session_id: session,
        },
    )
    .await
    .unwrap();
    assert_unauthenticated(auth.refresh(&tokens.refresh_token).await);
    assert!(
        auth.revocation(&session_revocation_key(&session))
            .await
            .is_some()
    );
    auth.refresh(&other.refresh_token).await.unwrap();
    // Idempotent: a retry succeeds.
    auth.call::<Logout>(
        Some(identity),
        LogoutRequest {
            session_id: session,
        },
    )
    .await
    .unwrap();
    // Without an identity there is nothing to log out.
    let refused = auth
        .call::<Logout>(
            None,
            LogoutRequest {
                session_id: session,
            },
        )
        .await;
    assert_unauthenticated(refused);
    auth.stop().await;
}

#[tokio::test]
async fn logout_all_ends_every_session_and_a_new_login_works() {
    let auth = TestAuth::start().await.unwrap();
    let a = signed_up(&auth, "ada@example.com").await;
    let b = auth.login("ada@example.com", PASSWORD).await.unwrap();
    let identity = identity_of(&a.access_token);
    let before = chrono::Utc::now().timestamp();

    auth.call::<LogoutAll>(Some(identity.clone()), NoParams {})
        .await
        .unwrap();
    assert_unauthenticated(auth.refresh(&a.refresh_token).await);
    assert_unauthenticated(auth.refresh(&b.refresh_token).await);
    let revoked = auth
        .revocation(&user_revocation_key(&identity.user_id))
        .await
        .expect("user entry in the bucket");
    assert!(revoked.revoked_at.timestamp() >= before);
    for session in [session_of(&a.access_token), session_of(&b.access_token)] {
        assert!(
            auth.revocation(&session_revocation_key(&session))
                .await
                .is_some()
        );
    }
    let fresh = auth.login("ada@example.com", PASSWORD).await.unwrap();
    auth.refresh(&fresh.refresh_token).await.unwrap();
    auth.stop().await;
}

#[tokio::test]
async fn changing_the_password_ends_every_session_and_opens_a_new_one() {
    let auth = TestAuth::start().await.unwrap();
    let old = signed_up(&auth, "ada@example.com").await;
    let identity = identity_of(&old.access_token);
    const NEW: &str = "a different long passphrase";

    let wrong = auth
        .call::<ChangePassword>(
            Some(identity.clone()),
            ChangePasswordRequest {
                current_password: "not the password".into(),
                new_password: NEW.into(),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(wrong.code, ErrorCode::Forbidden);
    let weak = auth
        .call::<ChangePassword>(
            Some(identity.clone()),
            ChangePasswordRequest {
                current_password: PASSWORD.into(),
                new_password: "short".into(),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(weak.code, ErrorCode::InvalidInput);
    auth.refresh(&old.refresh_token)
        .await
        .expect("nothing changed yet");
    let old = auth.login("ada@example.com", PASSWORD).await.unwrap();

    let new = auth
        .call::<ChangePassword>(
            Some(identity.clone()),
            ChangePasswordRequest {
                current_password: PASSWORD.into(),
                new_password: NEW.into(),
            },
        )
        .await
        .unwrap();
    assert_ne!(session_of(&new.access_token), session_of(&old.access_token));
    assert_eq!(identity_of(&new.access_token), identity);
    assert_unauthenticated(auth.refresh(&old.refresh_token).await);
    auth.refresh(&new.refresh_token)
        .await
        .expect("the new session lives");
    assert!(
        auth.revocation(&user_revocation_key(&identity.user_id))
            .await
            .is_some()
    );
    assert_unauthenticated(auth.login("ada@example.com", PASSWORD).await);
    auth.login("ada@example.com", NEW).await.unwrap();
    auth.stop().await;
}

/// Adds a user with Ada's password to `tenant` as `role` (invitations are not built yet).
async fn add_member(
    auth: &TestAuth,
    tenant: TenantId,
    like: UserId,
    email: &str,
    role: Role,
) -> UserId {
    let user = UserId::new();
    let mut conn = auth.conn().await.unwrap();
    diesel::sql_query(
        "INSERT INTO users (id, email, password_hash) SELECT $1, $2, password_hash FROM users WHERE id = $3",
    )
    .bind::<SqlUuid, _>(user.as_uuid())
    .bind::<diesel::sql_types::Text, _>(email)
    .bind::<SqlUuid, _>(like.as_uuid())
    .execute(&mut conn)
    .await
    .unwrap();
    diesel::sql_query("INSERT INTO memberships (tenant_id, user_id, role) VALUES ($1, $2, $3)")
        .bind::<SqlUuid, _>(tenant.as_uuid())
        .bind::<SqlUuid, _>(user.as_uuid())
        .bind::<diesel::sql_types::Text, _>(role.as_str())
        .execute(&mut conn)
        .await
        .unwrap();
    user
}

#[tokio::test]
async fn removing_a_member_ends_their_sessions_in_the_tenant() {
    let auth = TestAuth::start().await.unwrap();
    let owner_tokens = signed_up(&auth, "ada@example.com").await;
    let owner = identity_of(&owner_tokens.access_token);
    let tenant = owner.tenant_id;
    let bob = add_member(
        &auth,
        tenant,
        owner.user_id,
        "bob@example.com",
        Role::Editor,
    )
    .await;
    let bob_tokens = auth.login("bob@example.com", PASSWORD).await.unwrap();
    let bob_identity = identity_of(&bob_tokens.access_token);
    assert_eq!(
        (bob_identity.tenant_id, bob_identity.role),
        (tenant, Role::Editor)
    );
    // Someone in another tenant.
    auth.register("Other", "eve@example.com", PASSWORD)
        .await
        .unwrap();
    let eve = identity_of(
        &auth
            .login("eve@example.com", PASSWORD)
            .await
            .unwrap()
            .access_token,
    );

    let members = auth
        .call::<ListMembers>(Some(bob_identity.clone()), NoParams {})
        .await
        .unwrap()
        .members;
    let listed: Vec<_> = members.iter().map(|m| (m.user_id, m.role)).collect();
    assert_eq!(listed, [(owner.user_id, Role::Owner), (bob, Role::Editor)]);

    let remove = |identity: &herald_contracts::rpc::Identity, user_id| {
        auth.call::<RemoveMember>(Some(identity.clone()), RemoveMemberRequest { user_id })
    };
    // An editor may not remove; the last owner stays; another tenant's user is not found.
    assert_eq!(
        remove(&bob_identity, owner.user_id).await.unwrap_err().code,
        ErrorCode::Forbidden
    );
    assert_eq!(
        remove(&owner, owner.user_id).await.unwrap_err().code,
        ErrorCode::Conflict
    );
    assert_eq!(
        remove(&owner, eve.user_id).await.unwrap_err().code,
        ErrorCode::NotFound
    );
    assert_eq!(
        remove(&eve, bob).await.unwrap_err().code,
        ErrorCode::NotFound
    );

    remove(&owner, bob).await.unwrap();
    assert_unauthenticated(auth.refresh(&bob_tokens.refresh_token).await);
    assert!(
        auth.revocation(&membership_revocation_key(&tenant, &bob))
            .await
            .is_some()
    );
    assert!(
        auth.revocation(&session_revocation_key(&session_of(
            &bob_tokens.access_token
        )))
        .await
        .is_some()
    );
    // A retry (after a lost bucket write) is 404 and puts the entry again.
    let member_key = membership_revocation_key(&tenant, &bob);
    auth.js()
        .get_key_value(herald_contracts::rpc::auth::REVOCATIONS_BUCKET)
        .await
        .unwrap()
        .purge(&member_key)
        .await
        .unwrap();
    assert!(auth.revocation(&member_key).await.is_none());
    assert_eq!(
        remove(&owner, bob).await.unwrap_err().code,
        ErrorCode::NotFound
    );
    assert!(auth.revocation(&member_key).await.is_some());
    let after = auth
        .call::<ListMembers>(Some(owner.clone()), NoParams {})
        .await
        .unwrap();
    assert_eq!(after.members.len(), 1);
    // The owner's own session is untouched.
    auth.refresh(&owner_tokens.refresh_token).await.unwrap();
    auth.stop().await;
}

#[tokio::test]
async fn a_revocation_lost_from_the_bucket_is_put_again_at_start() {
    let mut auth = TestAuth::start().await.unwrap();
    let tokens = signed_up(&auth, "ada@example.com").await;
    let identity = identity_of(&tokens.access_token);
    auth.call::<LogoutAll>(Some(identity.clone()), NoParams {})
        .await
        .unwrap();
    let key = user_revocation_key(&identity.user_id);
    let written = auth.revocation(&key).await.expect("written");
    let store = auth
        .js()
        .get_key_value(herald_contracts::rpc::auth::REVOCATIONS_BUCKET)
        .await
        .unwrap();
    store.purge(&key).await.unwrap();
    assert!(auth.revocation(&key).await.is_none());

    let replica = start(auth.env()).await.unwrap();
    auth.apps.push(crate::helpers::Running::spawn(replica));
    assert_eq!(auth.revocation(&key).await, Some(written));
    auth.stop().await;
}
