//! Refresh tokens, stored only as sha256 hashes.

use super::refresh_tokens;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use herald_contracts::{TenantId, UserId};

pub struct NewRefreshToken<'a> {
    pub user: UserId,
    pub family: uuid::Uuid,
    pub token_hash: &'a [u8],
    pub expires_at: DateTime<Utc>,
}

pub async fn insert_refresh_token(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    token: NewRefreshToken<'_>,
) -> QueryResult<usize> {
    diesel::insert_into(refresh_tokens::table)
        .values((
            refresh_tokens::id.eq(uuid::Uuid::now_v7()),
            refresh_tokens::tenant_id.eq(tenant.as_uuid()),
            refresh_tokens::user_id.eq(token.user.as_uuid()),
            refresh_tokens::family_id.eq(token.family),
            refresh_tokens::token_hash.eq(token.token_hash),
            refresh_tokens::expires_at.eq(token.expires_at),
        ))
        .execute(conn)
        .await
}
