//! Single-use tokens emailed to a user (verification, password reset), stored as sha256.
//! Users are global, so these rows belong to no tenant (no `tenant_id`, no policy).
//!
//! A token is consumed by one conditional `UPDATE … WHERE consumed_at IS NULL AND expires_at >
//! now() RETURNING`, so of two concurrent uses exactly one gets the row, and a used or expired
//! token matches nothing.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use herald_contracts::UserId;

diesel::table! {
    user_tokens (id) {
        id -> Uuid,
        token_hash -> Bytea,
        purpose -> Text,
        user_id -> Uuid,
        email -> Text,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        consumed_at -> Nullable<Timestamptz>,
    }
}

/// What a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    VerifyEmail,
    PasswordReset,
}

impl Purpose {
    pub fn as_str(&self) -> &'static str {
        match self {
            Purpose::VerifyEmail => "verify_email",
            Purpose::PasswordReset => "password_reset",
        }
    }
}

pub struct NewUserToken<'a> {
    pub id: uuid::Uuid,
    pub token_hash: &'a [u8],
    pub purpose: Purpose,
    pub user: UserId,
    pub email: &'a str,
    pub expires_at: DateTime<Utc>,
}

pub async fn insert(conn: &mut AsyncPgConnection, token: NewUserToken<'_>) -> QueryResult<usize> {
    diesel::insert_into(user_tokens::table)
        .values((
            user_tokens::id.eq(token.id),
            user_tokens::token_hash.eq(token.token_hash),
            user_tokens::purpose.eq(token.purpose.as_str()),
            user_tokens::user_id.eq(token.user.as_uuid()),
            user_tokens::email.eq(token.email),
            user_tokens::expires_at.eq(token.expires_at),
        ))
        .execute(conn)
        .await
}

/// Uses the token: the user and the address it was sent to, or `None` if it is unknown, of
/// another purpose, already used or expired. Time is the database's.
pub async fn consume(
    conn: &mut AsyncPgConnection,
    token_hash: &[u8],
    purpose: Purpose,
) -> QueryResult<Option<(UserId, String)>> {
    let row: Option<(uuid::Uuid, String)> = diesel::update(
        user_tokens::table
            .filter(user_tokens::token_hash.eq(token_hash))
            .filter(user_tokens::purpose.eq(purpose.as_str()))
            .filter(user_tokens::consumed_at.is_null())
            .filter(user_tokens::expires_at.gt(diesel::dsl::now)),
    )
    .set(user_tokens::consumed_at.eq(diesel::dsl::now))
    .returning((user_tokens::user_id, user_tokens::email))
    .get_result(conn)
    .await
    .optional()?;
    Ok(row.map(|(user, email)| (UserId::from_uuid(user), email)))
}

/// Uses up every outstanding token of `purpose` for the user (a reset link that was not the
/// one used must not work after the password changed).
pub async fn consume_all(
    conn: &mut AsyncPgConnection,
    user: UserId,
    purpose: Purpose,
) -> QueryResult<usize> {
    diesel::update(
        user_tokens::table
            .filter(user_tokens::user_id.eq(user.as_uuid()))
            .filter(user_tokens::purpose.eq(purpose.as_str()))
            .filter(user_tokens::consumed_at.is_null()),
    )
    .set(user_tokens::consumed_at.eq(diesel::dsl::now))
    .execute(conn)
    .await
}

/// Forgets tokens that expired more than a day ago.
pub async fn prune(conn: &mut AsyncPgConnection) -> QueryResult<usize> {
    let cutoff = chrono::Utc::now() - chrono::TimeDelta::days(1);
    diesel::delete(user_tokens::table.filter(user_tokens::expires_at.lt(cutoff)))
        .execute(conn)
        .await
}
