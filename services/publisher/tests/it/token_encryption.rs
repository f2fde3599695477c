//! Social-account tokens sealed at rest: what the row holds, rotation to a new key, a sealed
//! token moved to another row, a key that is not configured, and a keyring that is refused at
//! start-up.

use crate::publish::{post_state, schedule};
use crate::{RPC_TIMEOUT, World, ledger_count};
use base64::Engine;
use diesel::QueryableByName;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use herald_contracts::AccountId;
use herald_contracts::rpc::publisher::{PostStatus, PostView, TargetState};
use herald_kit::{Env, KitError};
use herald_publisher::repo::accounts;
use herald_publisher::token_keys::TokenKeys;
use herald_testkit::{Running, ServiceProcess, wait_for};
use std::path::Path;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

fn keyring(entries: &[(&str, u8)]) -> String {
    entries
        .iter()
        .map(|(id, byte)| {
            format!(
                "{id}:{}",
                base64::engine::general_purpose::STANDARD.encode([*byte; 32])
            )
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn env_with_keys(world: &World, keys: &str) -> Env {
    herald_testkit::service_env(
        &world.nats.url(),
        Some(world.db.url()),
        &[
            ("HERALD_PUBLISHER_ALLOW_PRIVATE_NETWORKS", "true"),
            ("HERALD_PUBLISHER_TOKEN_KEYS", keys),
        ],
    )
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = diesel::sql_types::Text)]
    access_token: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    refresh_token: Option<String>,
}

async fn db(world: &World) -> anyhow::Result<AsyncPgConnection> {
    let mut conn = AsyncPgConnection::establish(world.db.url()).await?;
    diesel::sql_query("SET search_path TO publisher")
        .execute(&mut conn)
        .await?;
    Ok(conn)
}

async fn stored(world: &World, account: AccountId) -> anyhow::Result<Row> {
    Ok(
        diesel::sql_query("SELECT access_token, refresh_token FROM accounts WHERE id = $1")
            .bind::<diesel::sql_types::Uuid, _>(account.as_uuid())
            .get_result(&mut db(world).await?)
            .await?,
    )
}

async fn set_access_token(world: &World, account: AccountId, value: &str) -> anyhow::Result<()> {
    diesel::sql_query("UPDATE accounts SET access_token = $2 WHERE id = $1")
        .bind::<diesel::sql_types::Uuid, _>(account.as_uuid())
        .bind::<diesel::sql_types::Text, _>(value)
        .execute(&mut db(world).await?)
        .await?;
    Ok(())
}

/// Schedules a post for now to `account` and waits until it is settled either way.
async fn publish_now(world: &World, text: &str, account: AccountId) -> anyhow::Result<PostView> {
    let post = schedule(world, text, 0, vec![account]).await?;
    wait_for("the post settled", WAIT, || async {
        post_state(world, post.id).await.filter(|p| {
            matches!(
                p.status,
                PostStatus::Published | PostStatus::Failed | PostStatus::PartiallyPublished
            )
        })
    })
    .await
}

#[tokio::test]
async fn a_connected_accounts_token_is_sealed_at_rest_and_still_publishes() -> anyhow::Result<()> {
    let world = World::new().await?;
    let service = Running::spawn(herald_publisher::start(world.env()).await?);
    let account = world.connect_account("token-sealed-at-rest").await?;

    let row = stored(&world, account.id).await?;
    assert!(
        row.access_token.starts_with("v1:test:"),
        "sealed with the current key"
    );
    assert!(!row.access_token.contains("token-sealed-at-rest"));
    assert_eq!(row.refresh_token, None);

    let done = publish_now(&world, "sealed and published", account.id).await?;
    assert_eq!(done.status, PostStatus::Published, "{done:?}");
    let ledger = world.sandbox.ledger();
    assert_eq!(ledger.len(), 1);
    // The sandbox derives the account from the bearer token: the plaintext token was sent.
    assert_eq!(ledger[0].account_id, account.remote_account_id);
    assert_eq!(
        stored(&world, account.id).await?.access_token,
        row.access_token,
        "a row under the current key is not rewritten"
    );
    service.stop().await
}

#[tokio::test]
async fn after_rotation_old_and_clear_text_tokens_publish_and_are_sealed_with_the_new_key()
-> anyhow::Result<()> {
    let world = World::new().await?;
    let old = keyring(&[("old", 1)]);
    let rotated = keyring(&[("new", 2), ("old", 1)]);

    let service = Running::spawn(herald_publisher::start(env_with_keys(&world, &old)).await?);
    let read = world.connect_account("token-rotated-on-read").await?;
    let written = world.connect_account("token-rotated-on-write").await?;
    for account in [read.id, written.id] {
        assert!(
            stored(&world, account)
                .await?
                .access_token
                .starts_with("v1:old:")
        );
    }
    service.stop().await?;

    let service = Running::spawn(herald_publisher::start(env_with_keys(&world, &rotated)).await?);
    // Read: publishing opens the old-key token and seals it again under the new key.
    let done = publish_now(&world, "published after rotation", read.id).await?;
    assert_eq!(done.status, PostStatus::Published, "{done:?}");
    assert_eq!(ledger_count(&world, "published after rotation"), 1);
    assert_eq!(world.sandbox.ledger()[0].account_id, read.remote_account_id);
    let resealed = wait_for("sealed again on read", WAIT, || async {
        stored(&world, read.id)
            .await
            .ok()
            .filter(|row| row.access_token.starts_with("v1:new:"))
    })
    .await?;
    assert!(!resealed.access_token.contains("token-rotated-on-read"));
    // Write: connecting the account again stores it under the new key.
    let again = world.connect_account("token-rotated-on-write").await?;
    assert_eq!(again.id, written.id);
    assert!(
        stored(&world, written.id)
            .await?
            .access_token
            .starts_with("v1:new:")
    );

    // A token stored in the clear before sealing existed is read as it is, then sealed.
    set_access_token(&world, read.id, "token-rotated-on-read").await?;
    let done = publish_now(&world, "published from clear text", read.id).await?;
    assert_eq!(done.status, PostStatus::Published, "{done:?}");
    assert_eq!(ledger_count(&world, "published from clear text"), 1);
    let sealed = wait_for("clear text sealed", WAIT, || async {
        stored(&world, read.id)
            .await
            .ok()
            .filter(|row| row.access_token.starts_with("v1:new:"))
    })
    .await?;
    assert!(!sealed.access_token.contains("token-rotated-on-read"));
    service.stop().await?;

    // Now nothing needs the old key: a keyring without it still publishes both.
    let only_new = keyring(&[("new", 2)]);
    let service = Running::spawn(herald_publisher::start(env_with_keys(&world, &only_new)).await?);
    for (account, text) in [
        (read.id, "new key only, a"),
        (written.id, "new key only, b"),
    ] {
        let done = publish_now(&world, text, account).await?;
        assert_eq!(done.status, PostStatus::Published, "{done:?}");
    }
    service.stop().await
}

#[tokio::test]
async fn a_refresh_stores_tokens_under_the_current_key_and_reseals_the_kept_refresh_token()
-> anyhow::Result<()> {
    let world = World::new().await?;
    let old = TokenKeys::parse(&keyring(&[("old", 1)])).map_err(anyhow::Error::msg)?;
    let rotated =
        TokenKeys::parse(&keyring(&[("new", 2), ("old", 1)])).map_err(anyhow::Error::msg)?;
    let mut conn = db(&world).await?;
    let account = accounts::upsert(
        &mut conn,
        &old,
        world.tenant,
        accounts::NewAccount {
            platform: "x",
            instance_url: "https://api.x.example",
            remote_account_id: "42",
            handle: "@herald",
            access_token: "access-1",
            refresh_token: Some("refresh-1"),
            token_expires_at: None,
        },
    )
    .await?;
    let id = AccountId::from_uuid(account.id);
    assert!(account.access_token.starts_with("v1:old:"));
    let refresh = account.refresh_token.clone().unwrap_or_default();
    assert!(refresh.starts_with("v1:old:") && !refresh.contains("refresh-1"));

    // The platform sent a new access token and kept the refresh token.
    accounts::store_tokens(
        &mut conn,
        &rotated,
        world.tenant,
        id,
        "access-2",
        None,
        None,
    )
    .await?;
    let row = stored(&world, id).await?;
    assert!(row.access_token.starts_with("v1:new:"));
    let kept = row.refresh_token.unwrap_or_default();
    assert!(
        kept.starts_with("v1:new:"),
        "the kept refresh token is sealed again"
    );
    let locked = accounts::lock(&mut conn, &rotated, world.tenant, id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("account gone"))?;
    assert_eq!(locked.access_token, "access-2");
    assert_eq!(locked.refresh_token.as_deref(), Some("refresh-1"));
    assert!(!format!("{locked:?}").contains("access-2"));
    // Sealed for this row and column only: the refresh token does not open as an access token.
    let opened = rotated.open(
        account.id,
        herald_publisher::token_keys::TokenColumn::Access,
        &kept,
    );
    assert!(opened.is_err());
    Ok(())
}

async fn failed_reason(world: &World, text: &str, account: AccountId) -> anyhow::Result<String> {
    let done = publish_now(world, text, account).await?;
    assert_eq!(done.status, PostStatus::Failed, "{done:?}");
    assert_eq!(done.targets[0].state, TargetState::Failed);
    assert_eq!(ledger_count(world, text), 0, "nothing reached the platform");
    Ok(done.targets[0].last_error.clone().unwrap_or_default())
}

#[tokio::test]
async fn a_sealed_token_copied_onto_another_account_does_not_open() -> anyhow::Result<()> {
    let world = World::new().await?;
    let service = Running::spawn(herald_publisher::start(world.env()).await?);
    let victim = world.connect_account("token-of-the-victim").await?;
    let other = world.connect_account("token-of-the-other").await?;
    let sealed = stored(&world, victim.id).await?.access_token;
    set_access_token(&world, other.id, &sealed).await?;

    let reason = failed_reason(&world, "posted with a moved token", other.id).await?;
    assert!(
        reason.contains("does not open with token key `test`"),
        "{reason}"
    );
    for secret in ["token-of-the-victim", "token-of-the-other", sealed.as_str()] {
        assert!(!reason.contains(secret), "{reason}");
    }
    // The victim's own row still publishes.
    let done = publish_now(&world, "the victim still posts", victim.id).await?;
    assert_eq!(done.status, PostStatus::Published, "{done:?}");
    service.stop().await
}

#[tokio::test]
async fn a_token_sealed_with_a_key_that_is_not_configured_fails_its_target_clearly()
-> anyhow::Result<()> {
    let world = World::new().await?;
    let gone = keyring(&[("gone", 3)]);
    let service = Running::spawn(herald_publisher::start(env_with_keys(&world, &gone)).await?);
    let account = world.connect_account("token-under-a-lost-key").await?;
    service.stop().await?;

    let service = Running::spawn(herald_publisher::start(world.env()).await?);
    let reason = failed_reason(&world, "posted without its key", account.id).await?;
    assert!(reason.contains("token key `gone`"), "{reason}");
    assert!(
        reason.contains("missing from HERALD_PUBLISHER_TOKEN_KEYS"),
        "{reason}"
    );
    assert!(!reason.contains("token-under-a-lost-key"), "{reason}");
    service.stop().await
}

fn config_error(result: Result<herald_kit::App, KitError>) -> herald_kit::ConfigError {
    match result {
        Err(KitError::Config(error)) => error,
        Err(other) => panic!("expected a configuration error, got {other}"),
        Ok(_) => panic!("started with a bad token keyring"),
    }
}

#[tokio::test]
async fn a_missing_or_malformed_keyring_stops_start_up_naming_the_variable_only() {
    // Nothing listens here: the keyring is checked before anything connects.
    let base = [
        ("HERALD_NATS_URL", "nats://127.0.0.1:1"),
        ("HERALD_DATABASE_URL", "postgres://p@127.0.0.1:1/p"),
        ("HERALD_OPS_ADDR", "127.0.0.1:0"),
    ];
    let error = config_error(herald_publisher::start(Env::from_pairs(base)).await);
    assert_eq!(error.var, "HERALD_PUBLISHER_TOKEN_KEYS");
    assert!(
        error
            .to_string()
            .contains("HERALD_PUBLISHER_TOKEN_KEYS_FILE"),
        "{error}"
    );

    let short = format!(
        "k1:{}",
        base64::engine::general_purpose::STANDARD.encode(b"sixteen-s3cret!!")
    );
    for bad in [short.as_str(), "no-key-id-s3cret", "k1:s3cret-not-base64!"] {
        let mut pairs = base.to_vec();
        pairs.push(("HERALD_PUBLISHER_TOKEN_KEYS", bad));
        let error = config_error(herald_publisher::start(Env::from_pairs(pairs)).await);
        assert_eq!(error.var, "HERALD_PUBLISHER_TOKEN_KEYS");
        let shown = error.to_string();
        assert!(
            !shown.contains("s3cret") && !shown.contains(&bad[3..]),
            "{shown}"
        );
    }
}

#[tokio::test]
async fn the_binary_exits_2_on_a_bad_keyring() -> anyhow::Result<()> {
    let env: Vec<(String, String)> = [
        ("HERALD_NATS_URL", "nats://127.0.0.1:1"),
        ("HERALD_DATABASE_URL", "postgres://p@127.0.0.1:1/p"),
        ("HERALD_OPS_ADDR", "127.0.0.1:0"),
        ("HERALD_PUBLISHER_TOKEN_KEYS", "k1:czNjcmV0"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let mut process = ServiceProcess::spawn(Path::new(crate::crash::BINARY), &env)?;
    let status = process.wait(RPC_TIMEOUT).await?;
    let output = std::fs::read_to_string(&process.log)?;
    assert_eq!(status.code(), Some(2), "{output}");
    assert!(output.contains("HERALD_PUBLISHER_TOKEN_KEYS"), "{output}");
    assert!(!output.contains("czNjcmV0"), "{output}");
    Ok(())
}
