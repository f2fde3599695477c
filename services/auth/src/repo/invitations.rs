//! Invitations to a tenant with a role. Tenant-owned (row-level security on `tenant_id`):
//! every query but acceptance runs in the inviting tenant's scope. Acceptance finds the
//! invitation by its token alone, which is what names the tenant, so it runs in a named system
//! scope; the token is stored only as sha256 and is consumed by one conditional `UPDATE`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use herald_contracts::rpc::Role;
use herald_contracts::rpc::identity::{Invitation, InvitationStatus};
use herald_contracts::{TenantId, UserId};

diesel::table! {
    invitations (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        email -> Text,
        role -> Text,
        token_hash -> Bytea,
        invited_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        accepted_at -> Nullable<Timestamptz>,
        accepted_by -> Nullable<Uuid>,
        revoked_at -> Nullable<Timestamptz>,
    }
}

fn role(value: &str) -> QueryResult<Role> {
    Role::parse(value).ok_or_else(|| {
        diesel::result::Error::DeserializationError(format!("unknown role {value:?}").into())
    })
}

pub struct NewInvitation<'a> {
    pub id: uuid::Uuid,
    pub email: &'a str,
    pub role: Role,
    pub token_hash: &'a [u8],
    pub invited_by: UserId,
    pub expires_at: DateTime<Utc>,
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    new: NewInvitation<'_>,
) -> QueryResult<Invitation> {
    let created_at: DateTime<Utc> = diesel::insert_into(invitations::table)
        .values((
            invitations::id.eq(new.id),
            invitations::tenant_id.eq(tenant.as_uuid()),
            invitations::email.eq(new.email),
            invitations::role.eq(new.role.as_str()),
            invitations::token_hash.eq(new.token_hash),
            invitations::invited_by.eq(new.invited_by.as_uuid()),
            invitations::expires_at.eq(new.expires_at),
        ))
        .returning(invitations::created_at)
        .get_result(conn)
        .await?;
    Ok(Invitation {
        id: new.id,
        email: new.email.to_owned(),
        role: new.role,
        status: InvitationStatus::Pending,
        invited_by: Some(new.invited_by),
        created_at,
        expires_at: new.expires_at,
    })
}

type Row = (
    uuid::Uuid,
    String,
    String,
    Option<uuid::Uuid>,
    DateTime<Utc>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
);

fn view(row: Row, now: DateTime<Utc>) -> QueryResult<Invitation> {
    let (id, email, role_name, invited_by, created_at, expires_at, accepted_at, revoked_at) = row;
    let status = if accepted_at.is_some() {
        InvitationStatus::Accepted
    } else if revoked_at.is_some() {
        InvitationStatus::Revoked
    } else if expires_at <= now {
        InvitationStatus::Expired
    } else {
        InvitationStatus::Pending
    };
    Ok(Invitation {
        id,
        email,
        role: role(&role_name)?,
        status,
        invited_by: invited_by.map(UserId::from_uuid),
        created_at,
        expires_at,
    })
}

macro_rules! columns {
    () => {
        (
            invitations::id,
            invitations::email,
            invitations::role,
            invitations::invited_by,
            invitations::created_at,
            invitations::expires_at,
            invitations::accepted_at,
            invitations::revoked_at,
        )
    };
}

/// The tenant's invitations, newest first (at most `limit`).
pub async fn list(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    limit: i64,
) -> QueryResult<Vec<Invitation>> {
    let rows: Vec<Row> = invitations::table
        .filter(invitations::tenant_id.eq(tenant.as_uuid()))
        .order((invitations::created_at.desc(), invitations::id.desc()))
        .limit(limit)
        .select(columns!())
        .load(conn)
        .await?;
    let now = Utc::now();
    rows.into_iter().map(|row| view(row, now)).collect()
}

/// One of the tenant's invitations, locked until the transaction ends.
pub async fn lock(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    id: uuid::Uuid,
) -> QueryResult<Option<Invitation>> {
    let row: Option<Row> = invitations::table
        .filter(invitations::tenant_id.eq(tenant.as_uuid()))
        .filter(invitations::id.eq(id))
        .select(columns!())
        .for_update()
        .first(conn)
        .await
        .optional()?;
    row.map(|row| view(row, Utc::now())).transpose()
}

pub async fn revoke(
    conn: &mut AsyncPgConnection,
    tenant: TenantId,
    id: uuid::Uuid,
) -> QueryResult<usize> {
    diesel::update(
        invitations::table
            .filter(invitations::tenant_id.eq(tenant.as_uuid()))
            .filter(invitations::id.eq(id))
            .filter(invitations::accepted_at.is_null())
            .filter(invitations::revoked_at.is_null()),
    )
    .set(invitations::revoked_at.eq(diesel::dsl::now))
    .execute(conn)
    .await
}

/// A pending invitation found by its token, not consumed (to learn whom it is for before
/// the password work).
#[derive(Debug, Clone)]
pub struct Pending {
    pub id: uuid::Uuid,
    pub tenant: TenantId,
    pub email: String,
    pub role: Role,
}

/// The pending, unexpired invitation with this token, if any. Needs a system scope.
pub async fn pending_by_token(
    conn: &mut AsyncPgConnection,
    token_hash: &[u8],
) -> QueryResult<Option<Pending>> {
    let row: Option<(uuid::Uuid, uuid::Uuid, String, String)> = invitations::table
        .filter(invitations::token_hash.eq(token_hash))
        .filter(invitations::accepted_at.is_null())
        .filter(invitations::revoked_at.is_null())
        .filter(invitations::expires_at.gt(diesel::dsl::now))
        .select((
            invitations::id,
            invitations::tenant_id,
            invitations::email,
            invitations::role,
        ))
        .first(conn)
        .await
        .optional()?;
    row.map(|(id, tenant, email, role_name)| {
        Ok(Pending {
            id,
            tenant: TenantId::from_uuid(tenant),
            email,
            role: role(&role_name)?,
        })
    })
    .transpose()
}

/// Accepts the invitation with this token for `user`: the one conditional `UPDATE` that makes
/// a token single use. `None` if it is unknown, accepted, revoked or expired by now.
pub async fn accept(
    conn: &mut AsyncPgConnection,
    token_hash: &[u8],
    user: UserId,
) -> QueryResult<Option<Pending>> {
    let row: Option<(uuid::Uuid, uuid::Uuid, String, String)> = diesel::update(
        invitations::table
            .filter(invitations::token_hash.eq(token_hash))
            .filter(invitations::accepted_at.is_null())
            .filter(invitations::revoked_at.is_null())
            .filter(invitations::expires_at.gt(diesel::dsl::now)),
    )
    .set((
        invitations::accepted_at.eq(diesel::dsl::now),
        invitations::accepted_by.eq(user.as_uuid()),
    ))
    .returning((
        invitations::id,
        invitations::tenant_id,
        invitations::email,
        invitations::role,
    ))
    .get_result(conn)
    .await
    .optional()?;
    row.map(|(id, tenant, email, role_name)| {
        Ok(Pending {
            id,
            tenant: TenantId::from_uuid(tenant),
            email,
            role: role(&role_name)?,
        })
    })
    .transpose()
}
