//! Row-level security on auth's tenant-owned tables (memberships, refresh tokens,
//! invitations, audit events, ...): a repository query on a connection that names no tenant,
//! or another tenant, sees nothing and may write nothing; the tenant's own scope sees its rows.

use crate::helpers::TestAuth;
use chrono::Utc;
use herald_auth::domain::{Email, TenantName};
use herald_auth::repo::{identity, invitations, tokens};
use herald_contracts::rpc::Role;
use herald_contracts::{TenantId, UserId};
use herald_kit::db::Db;
use herald_testkit::rls::{assert_isolated, is_rls_refusal};

#[tokio::test]
async fn auth_rows_are_invisible_without_the_tenant_setting() -> anyhow::Result<()> {
    let auth = TestAuth::infrastructure().await?;
    let db = Db::connect(auth.db.url(), herald_auth::SCHEMA, "auth-rls-test", 2).await?;
    assert_isolated(&db).await?;

    let (a, b) = (TenantId::new(), TenantId::new());
    let (ada, bea) = (UserId::new(), UserId::new());
    {
        // Tenants and users belong to no tenant.
        let mut conn = db.conn().await?;
        for (tenant, user, email) in [(a, ada, "ada@a.test"), (b, bea, "bea@b.test")] {
            identity::insert_tenant(&mut conn, tenant, &TenantName::parse("T").expect("name"))
                .await?;
            identity::insert_user(
                &mut conn,
                user,
                &Email::parse(email).expect("email"),
                "hash",
            )
            .await?;
        }
    }
    let mut conn = db.tenant(a).await?;
    identity::insert_membership(&mut conn, a, ada, Role::Owner).await?;
    tokens::insert_refresh_token(
        &mut conn,
        a,
        tokens::NewRefreshToken {
            user: ada,
            family: uuid::Uuid::now_v7(),
            token_hash: &[7u8; 32],
            expires_at: Utc::now() + chrono::TimeDelta::days(1),
        },
    )
    .await?;
    invitations::insert(
        &mut conn,
        a,
        invitations::NewInvitation {
            id: uuid::Uuid::now_v7(),
            email: "new@a.test",
            role: Role::Viewer,
            token_hash: &[9u8; 32],
            invited_by: ada,
            expires_at: Utc::now() + chrono::TimeDelta::days(1),
        },
    )
    .await?;
    drop(conn);

    for mut conn in [db.conn().await?, db.tenant(b).await?] {
        assert!(identity::members(&mut conn, a).await?.is_empty());
        assert_eq!(identity::membership_role(&mut conn, a, ada).await?, None);
        assert!(identity::login_membership(&mut conn, ada).await?.is_none());
        assert!(identity::lock_owners(&mut conn, a).await?.is_empty());
        assert!(invitations::list(&mut conn, a, 10).await?.is_empty());
        assert!(
            invitations::pending_by_token(&mut conn, &[9u8; 32])
                .await?
                .is_none()
        );
        assert!(tokens::lock_by_hash(&mut conn, &[7u8; 32]).await?.is_none());
        assert!(
            tokens::revoke_user_sessions(&mut conn, ada, Utc::now())
                .await?
                .is_empty()
        );
    }
    let mut conn = db.tenant(a).await?;
    assert_eq!(identity::members(&mut conn, a).await?.len(), 1);
    assert_eq!(invitations::list(&mut conn, a, 10).await?.len(), 1);
    assert!(tokens::lock_by_hash(&mut conn, &[7u8; 32]).await?.is_some());
    // Writing another tenant's rows from A's scope is refused by the policy.
    let refused = identity::insert_membership(&mut conn, b, bea, Role::Owner)
        .await
        .expect_err("a membership of another tenant must be refused");
    assert!(is_rls_refusal(&refused), "{refused}");
    drop(conn);
    // The named system scope (login, token look-ups) sees every tenant.
    let mut conn = db.system("test: login's view").await?;
    assert_eq!(
        identity::login_membership(&mut conn, ada).await?,
        Some((a, Role::Owner))
    );
    assert!(
        invitations::pending_by_token(&mut conn, &[9u8; 32])
            .await?
            .is_some()
    );
    Ok(())
}
