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
        .select(Account::as_select())
        .load(conn)
        .await
}
