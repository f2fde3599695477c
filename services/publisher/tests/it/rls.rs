//! Row-level security: accounts, posts, targets and target failures are visible and writable
//! only for their own tenant, and a query on a connection that names no tenant sees nothing.

use crate::TEMPLATE;
use herald_contracts::{PostId, TenantId};
use herald_kit::db::Db;
use herald_publisher::SCHEMA;
use herald_publisher::repo::accounts::{self, NewAccount};
use herald_publisher::repo::posts::{self, NewPost};
use herald_publisher::token_keys::TokenKeys;
use herald_testkit::rls::{assert_isolated, is_rls_refusal};
use herald_testkit::{TEST_TOKEN_KEYS, postgres};

fn account(remote: &str) -> NewAccount<'_> {
    NewAccount {
        platform: "mastodon",
        instance_url: "https://mastodon.example",
        remote_account_id: remote,
        handle: "@a",
        access_token: "token",
        refresh_token: None,
        token_expires_at: None,
    }
}

fn draft() -> NewPost<'static> {
    NewPost {
        text: "hello",
        scheduled_at: None,
        media: &[],
        max_late_secs: None,
    }
}

#[tokio::test]
async fn posts_and_accounts_are_invisible_without_the_tenant_setting() -> anyhow::Result<()> {
    let test_db = postgres().await?.fresh_db(&TEMPLATE).await?;
    let db = Db::connect(test_db.url(), SCHEMA, "publisher-rls", 2).await?;
    assert_isolated(&db).await?;
    let keys = TokenKeys::parse(TEST_TOKEN_KEYS).map_err(anyhow::Error::msg)?;
    let (a, b) = (TenantId::new(), TenantId::new());
    let post = PostId::new();
    let mut conn = db.tenant(a).await?;
    let connected = accounts::upsert(&mut conn, &keys, a, account("1")).await?;
    let account_id = herald_contracts::AccountId::from_uuid(connected.id);
    posts::insert_post(&mut conn, a, post, draft(), &[account_id]).await?;
    drop(conn);

    for mut conn in [db.conn().await?, db.tenant(b).await?] {
        assert!(accounts::list(&mut conn, a).await?.is_empty());
        assert!(posts::find_post(&mut conn, a, post).await?.is_none());
        assert!(
            posts::list_posts(&mut conn, a, None, None, 10)
                .await?
                .is_empty()
        );
        assert!(posts::targets_of(&mut conn, a, &[post]).await?.is_empty());
        assert!(!accounts::disconnect(&mut conn, a, account_id).await?);
    }
    let mut conn = db.tenant(a).await?;
    assert_eq!(accounts::list(&mut conn, a).await?.len(), 1);
    let (found, targets) = posts::find_post(&mut conn, a, post)
        .await?
        .expect("tenant A sees its post");
    assert_eq!(found.text, "hello");
    assert_eq!(targets.len(), 1);

    let refused = accounts::upsert(&mut conn, &keys, b, account("2"))
        .await
        .expect_err("an account of another tenant must be refused");
    assert!(is_rls_refusal(&refused), "{refused}");
    let refused = posts::insert_post(&mut conn, b, PostId::new(), draft(), &[])
        .await
        .expect_err("a post of another tenant must be refused");
    assert!(is_rls_refusal(&refused), "{refused}");
    Ok(())
}
