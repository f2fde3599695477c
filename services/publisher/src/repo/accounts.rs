//! Connected accounts. Their tokens are sealed with the token keyring on every write and
//! opened on every read that needs them (`lock`, `open_claimed`); see `token_keys`.

use super::posts::Claimed;
use super::schema::accounts;
use crate::token_keys::{TokenColumn, TokenError, TokenKeys};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::Error as DbError;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use herald_contracts::{AccountId, TenantId};
use herald_kit::db::Db;
use herald_kit::{KitError, Secret};
use std::fmt;

/// An account row; its tokens are as stored (sealed).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = accounts)]
pub struct Account {
    pub id: uuid::Uuid,
    pub tenant_id: uuid::Uuid,
    pub platform: String,
    pub instance_url: String,
    pub remote_account_id: String,
    pub handle: String,
    pub access_token: String,
    pub created_at: DateTime<Utc>,
    pub refresh_token: Option<String>,
    pub token_expires_at: Option<DateTime<Utc>>,
    pub rate_limited_until: Option<DateTime<Utc>>,
    pub disconnected_at: Option<DateTime<Utc>>,
}

pub struct NewAccount<'a> {
    pub platform: &'a str,
    pub instance_url: &'a str,
    pub remote_account_id: &'a str,
    pub handle: &'a str,
    pub access_token: &'a str,
    pub refresh_token: Option<&'a str>,
    pub token_expires_at: Option<DateTime<Utc>>,
}

fn sealing(error: TokenError) -> DbError {
    DbError::SerializationError(Box::new(error))
}

fn opening(error: TokenError) -> DbError {
    DbError::DeserializationError(Box::new(error))
}

/// Both tokens sealed for the row `account`.
fn seal_pair(
    keys: &TokenKeys,
    account: uuid::Uuid,
    access_token: &str,
    refresh_token: Option<&str>,
) -> QueryResult<(String, Option<String>)> {
    let access = keys
        .seal(account, TokenColumn::Access, access_token)
        .map_err(sealing)?;
    let refresh = refresh_token
        .map(|token| keys.seal(account, TokenColumn::Refresh, token))
        .transpose()
        .map_err(sealing)?;
    Ok((access, refresh))
}

/// Connects an account, or refreshes the token of one already connected. The tokens are
/// sealed for the row they end up in: an account connected twice at once keeps the first
/// row's id, so the loser seals again for it before the transaction commits.
pub async fn upsert(
    conn: &mut AsyncPgConnection,
    keys: &TokenKeys,
    tenant: TenantId,
    new: NewAccount<'_>,
) -> QueryResult<Account> {
    conn.transaction::<_, DbError, _>(async |conn| {
        let existing: Option<uuid::Uuid> = accounts::table
            .filter(accounts::tenant_id.eq(tenant.as_uuid()))
            .filter(accounts::platform.eq(new.platform))
            .filter(accounts::instance_url.eq(new.instance_url))
            .filter(accounts::remote_account_id.eq(new.remote_account_id))
            .select(accounts::id)
            .first(conn)
            .await
            .optional()?;
        let id = existing.unwrap_or_else(|| AccountId::new().as_uuid());
        let (access, refresh) = seal_pair(keys, id, new.access_token, new.refresh_token)?;
        let account = diesel::insert_into(accounts::table)
            .values((
                accounts::id.eq(id),
                accounts::tenant_id.eq(tenant.as_uuid()),
                accounts::platform.eq(new.platform),
                accounts::instance_url.eq(new.instance_url),
                accounts::remote_account_id.eq(new.remote_account_id),
                accounts::handle.eq(new.handle),
                accounts::access_token.eq(&access),
                accounts::refresh_token.eq(&refresh),
                accounts::token_expires_at.eq(new.token_expires_at),
            ))
            .on_conflict((
                accounts::tenant_id,
                accounts::platform,
                accounts::instance_url,
                accounts::remote_account_id,
            ))
            .do_update()
            .set((
                accounts::handle.eq(new.handle),
                accounts::access_token.eq(&access),
                accounts::refresh_token.eq(&refresh),
                accounts::token_expires_at.eq(new.token_expires_at),
                accounts::disconnected_at.eq(None::<DateTime<Utc>>),
                accounts::rate_limited_until.eq(None::<DateTime<Utc>>),
            ))
            .returning(Account::as_returning())
            .get_result(conn)
            .await?;
        if account.id == id {
            return Ok(account);
        }
        let (access, refresh) = seal_pair(keys, account.id, new.access_token, new.refresh_token)?;
        diesel::update(accounts::table)
            .filter(accounts::id.eq(account.id))
            .set((
                accounts::access_token.eq(access),
                accounts::refresh_token.eq(refresh),
            ))
            .returning(Account::as_returning())
            .get_result(conn)
            .await
    })
    .await
}

/// The tenant's accounts among `ids` (others' accounts are simply not found).
pub async fn find_many(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    ids: &[AccountId],
) -> QueryResult<Vec<Account>> {
    let ids: Vec<uuid::Uuid> = ids.iter().map(AccountId::as_uuid).collect();
    accounts::table
        .filter(accounts::tenant_id.eq(tenant.as_uuid()))
        .filter(accounts::id.eq_any(ids))
        .filter(accounts::disconnected_at.is_null())
        .select(Account::as_select())
        .load(conn)
        .await
}

/// The tenant's connected accounts, oldest first.
pub async fn list(conn: &mut AsyncPgConnection, tenant: TenantId) -> QueryResult<Vec<Account>> {
    accounts::table
        .filter(accounts::tenant_id.eq(tenant.as_uuid()))
        .filter(accounts::disconnected_at.is_null())
        .select(Account::as_select())
        .order(accounts::created_at)
        .load(conn)
        .await
}

/// Disconnects an account and erases its tokens; the row stays for published targets.
pub async fn disconnect(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    account: AccountId,
) -> QueryResult<bool> {
    let changed = diesel::update(accounts::table)
        .filter(accounts::tenant_id.eq(tenant.as_uuid()))
        .filter(accounts::id.eq(account.as_uuid()))
        .filter(accounts::disconnected_at.is_null())
        .set((
            accounts::disconnected_at.eq(diesel::dsl::now),
            accounts::access_token.eq(""),
            accounts::refresh_token.eq(None::<String>),
            accounts::token_expires_at.eq(None::<DateTime<Utc>>),
        ))
        .execute(conn)
        .await?;
    Ok(changed == 1)
}

/// An account's tokens in the clear, under its row lock. `Debug` hides the tokens.
pub struct LockedAccount {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub token_expires_at: Option<DateTime<Utc>>,
}

impl fmt::Debug for LockedAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockedAccount")
            .field("token_expires_at", &self.token_expires_at)
            .finish_non_exhaustive()
    }
}

/// The account, locked for the rest of the transaction (token refresh is serialised on it, so
/// a rotating refresh token is never presented twice), with its tokens opened.
pub async fn lock(
    conn: &mut AsyncPgConnection,
    keys: &TokenKeys,
    tenant: TenantId,
    account: AccountId,
) -> QueryResult<Option<LockedAccount>> {
    let Some(row) = accounts::table
        .filter(accounts::tenant_id.eq(tenant.as_uuid()))
        .filter(accounts::id.eq(account.as_uuid()))
        .select(Account::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?
    else {
        return Ok(None);
    };
    let access = keys
        .open(row.id, TokenColumn::Access, &row.access_token)
        .map_err(opening)?;
    let refresh = row
        .refresh_token
        .as_deref()
        .map(|stored| keys.open(row.id, TokenColumn::Refresh, stored))
        .transpose()
        .map_err(opening)?;
    Ok(Some(LockedAccount {
        access_token: access.token.expose().to_owned(),
        refresh_token: refresh.map(|r| r.token.expose().to_owned()),
        token_expires_at: row.token_expires_at,
    }))
}

/// Stores refreshed tokens, sealed with the current key; a refresh token the platform did not
/// send is kept (and sealed again if an older key sealed it). Call it with the row locked.
pub async fn store_tokens(
    conn: &mut AsyncPgConnection,
    keys: &TokenKeys,
    tenant: TenantId,
    account: AccountId,
    access_token: &str,
    refresh_token: Option<&str>,
    expires_at: Option<DateTime<Utc>>,
) -> QueryResult<usize> {
    let id = account.as_uuid();
    let refresh = match refresh_token {
        Some(token) => Some(
            keys.seal(id, TokenColumn::Refresh, token)
                .map_err(sealing)?,
        ),
        None => {
            let kept: Option<Option<String>> = accounts::table
                .filter(accounts::tenant_id.eq(tenant.as_uuid()))
                .filter(accounts::id.eq(id))
                .select(accounts::refresh_token)
                .first(conn)
                .await
                .optional()?;
            kept.flatten()
                .map(|stored| keys.reseal(id, TokenColumn::Refresh, &stored))
                .transpose()
                .map_err(opening)?
        }
    };
    let access = keys
        .seal(id, TokenColumn::Access, access_token)
        .map_err(sealing)?;
    diesel::update(accounts::table)
        .filter(accounts::tenant_id.eq(tenant.as_uuid()))
        .filter(accounts::id.eq(id))
        .filter(accounts::disconnected_at.is_null())
        .set((
            accounts::access_token.eq(access),
            accounts::refresh_token.eq(refresh),
            accounts::token_expires_at.eq(expires_at),
        ))
        .execute(conn)
        .await
}

/// The access token of a claimed target's account. Tokens stored in the clear or sealed with
/// an older key are sealed again with the current key on the way, best effort: only if the
/// row still holds what was read (a refresh meanwhile wins), and a failure only delays it to
/// the next read. A token that does not open fails with a reason naming the key id.
pub async fn open_claimed(
    db: &Db,
    keys: &TokenKeys,
    tenant: TenantId,
    claimed: &Claimed,
) -> Result<Secret, TokenError> {
    let id = claimed.account_id;
    let access = keys.open(id, TokenColumn::Access, &claimed.access_token)?;
    let refresh = claimed
        .refresh_token
        .as_deref()
        .map(|stored| keys.open(id, TokenColumn::Refresh, stored))
        .transpose()?;
    if access.stale || refresh.is_some_and(|r| r.stale) {
        match reseal_claimed(db, keys, tenant, claimed).await {
            Ok(1) => {
                tracing::info!(account.id = %id, key.id = keys.current_id(), "account tokens sealed again with the current token key");
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(account.id = %id, error = %error, "could not seal the account's tokens again; retried when next read");
            }
        }
    }
    Ok(access.token)
}

async fn reseal_claimed(
    db: &Db,
    keys: &TokenKeys,
    tenant: TenantId,
    claimed: &Claimed,
) -> Result<usize, KitError> {
    let id = claimed.account_id;
    let other = |error: TokenError| KitError::Other(error.to_string());
    let access = keys
        .reseal(id, TokenColumn::Access, &claimed.access_token)
        .map_err(other)?;
    let refresh = claimed
        .refresh_token
        .as_deref()
        .map(|stored| keys.reseal(id, TokenColumn::Refresh, stored))
        .transpose()
        .map_err(other)?;
    let mut conn = db.tenant(tenant).await?;
    Ok(diesel::update(accounts::table)
        .filter(accounts::tenant_id.eq(tenant.as_uuid()))
        .filter(accounts::id.eq(id))
        .filter(accounts::access_token.eq(&claimed.access_token))
        .filter(accounts::refresh_token.is_not_distinct_from(claimed.refresh_token.as_deref()))
        .set((
            accounts::access_token.eq(access),
            accounts::refresh_token.eq(refresh),
        ))
        .execute(&mut conn)
        .await?)
}

/// How many connected accounts' tokens each key id seals (`""`: stored in the clear before
/// tokens were sealed), across tenants: the start-up report that tells when an old key may go.
/// Needs a system-scoped connection (a tenant's sees only its own accounts).
pub async fn token_key_usage(conn: &mut AsyncPgConnection) -> QueryResult<Vec<KeyUsage>> {
    diesel::sql_query(
        "SELECT CASE WHEN access_token LIKE 'v1:%' THEN split_part(access_token, ':', 2) \
           ELSE '' END AS key_id, count(*) AS accounts \
         FROM accounts WHERE disconnected_at IS NULL AND access_token <> '' GROUP BY 1",
    )
    .load(conn)
    .await
}

#[derive(Debug, QueryableByName)]
pub struct KeyUsage {
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub key_id: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub accounts: i64,
}

/// No call for this account before `until` (its platform said so); never moves it earlier.
pub async fn rate_limited(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    account: AccountId,
    until: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(accounts::table)
        .filter(accounts::tenant_id.eq(tenant.as_uuid()))
        .filter(accounts::id.eq(account.as_uuid()))
        .filter(
            accounts::rate_limited_until
                .is_null()
                .or(accounts::rate_limited_until.lt(until)),
        )
        .set(accounts::rate_limited_until.eq(until))
        .execute(conn)
        .await
}

/// How many unsettled targets of not-yet-published posts use the account.
pub async fn open_targets(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    account: AccountId,
) -> QueryResult<i64> {
    use super::schema::post_targets;
    post_targets::table
        .filter(post_targets::tenant_id.eq(tenant.as_uuid()))
        .filter(post_targets::account_id.eq(account.as_uuid()))
        .filter(post_targets::state.eq_any(super::posts::OPEN_STATES))
        .count()
        .get_result(conn)
        .await
}
