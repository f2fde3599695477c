//! Connected accounts.

use super::schema::accounts;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use herald_contracts::{AccountId, TenantId};

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

/// Connects an account, or refreshes the token of one already connected.
pub async fn upsert(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    new: NewAccount<'_>,
) -> QueryResult<Account> {
    diesel::insert_into(accounts::table)
        .values((
            accounts::id.eq(AccountId::new().as_uuid()),
            accounts::tenant_id.eq(tenant.as_uuid()),
            accounts::platform.eq(new.platform),
            accounts::instance_url.eq(new.instance_url),
            accounts::remote_account_id.eq(new.remote_account_id),
            accounts::handle.eq(new.handle),
            accounts::access_token.eq(new.access_token),
            accounts::refresh_token.eq(new.refresh_token),
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
            accounts::access_token.eq(new.access_token),
            accounts::refresh_token.eq(new.refresh_token),
            accounts::token_expires_at.eq(new.token_expires_at),
            accounts::disconnected_at.eq(None::<DateTime<Utc>>),
            accounts::rate_limited_until.eq(None::<DateTime<Utc>>),
        ))
        .returning(Account::as_returning())
        .get_result(conn)
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

/// The account, locked for the rest of the transaction (token refresh is serialised on it, so
/// a rotating refresh token is never presented twice).
pub async fn lock(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    account: AccountId,
) -> QueryResult<Option<Account>> {
    accounts::table
        .filter(accounts::tenant_id.eq(tenant.as_uuid()))
        .filter(accounts::id.eq(account.as_uuid()))
        .select(Account::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

/// Stores refreshed tokens; a refresh token the platform did not send is kept.
pub async fn store_tokens(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    account: AccountId,
    access_token: &str,
    refresh_token: Option<&str>,
    expires_at: Option<DateTime<Utc>>,
) -> QueryResult<usize> {
    diesel::update(accounts::table)
        .filter(accounts::tenant_id.eq(tenant.as_uuid()))
        .filter(accounts::id.eq(account.as_uuid()))
        .filter(accounts::disconnected_at.is_null())
        .set((
            accounts::access_token.eq(access_token),
            accounts::refresh_token.eq(diesel::dsl::sql::<
                diesel::sql_types::Nullable<diesel::sql_types::Text>,
            >("COALESCE(")
            .bind::<diesel::sql_types::Nullable<diesel::sql_types::Text>, _>(refresh_token)
            .sql(", refresh_token)")),
            accounts::token_expires_at.eq(expires_at),
        ))
        .execute(conn)
        .await
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
